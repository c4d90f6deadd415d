// The overlay writer (TarWriter) against independent readers: zlib's gunzip (which checks the
// CRC-32 and length in the trailer), gzip -t and GNU tar, for the bundles a run writes and for odd
// ones (empty files, block-sized and zero-ending contents, long and non-ASCII paths).
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import type { BundleFile } from '../../src/bundle/types.js'
import { tarArchive } from '../../src/formats/tar-archive.js'
import { TarWriter } from '../../src/formats/tar.js'
import type { Device } from '../../src/manifest/types.js'

const work = mkdtempSync(path.join(os.tmpdir(), 'tar-overlay-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const mtime = new Date('2026-03-04T05:06:07Z')
const file = (devicePath: string, content: Uint8Array, mode = 0o644): BundleFile => ({
  path: devicePath,
  content: Buffer.from(content),
  mode,
  uid: 0,
  gid: 0,
  secret: mode === 0o600
})
const device = (serial: string): Device => ({ serial, deviceId: serial, fields: { serial }, source: { file: 'devices.csv', line: 2 } })
let outputs = 0

/** One overlay written by a TarWriter into a folder of its own: its path and bytes. */
function writeOverlay(files: BundleFile[], serial = 'SN-1'): { file: string; bytes: Buffer } {
  const outputDir = path.join(work, `out-${++outputs}`)
  mkdirSync(outputDir)
  const writer = new TarWriter(outputDir, mtime)
  const written = writer.write(device(serial), files)
  writer.idle()
  const target = path.join(outputDir, written.path)
  return { file: target, bytes: readFileSync(target) }
}

const bundle = (): BundleFile[] => [
  file('/var/sota/import/client.pem', Buffer.from(`-----BEGIN CERTIFICATE-----\n${'QUJD'.repeat(150)}\n-----END CERTIFICATE-----\n`)),
  file('/var/sota/import/pkey.pem', Buffer.from('-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n'), 0o600)
]

describe('the tar overlay writer', () => {
  it('writes a .tar.gz that gzip -t accepts and GNU tar extracts, smaller than its tar, key-only readable', () => {
    const files = bundle()
    const { file: overlay, bytes } = writeOverlay(files)
    expect(bytes.length).toBeLessThan(tarArchive(files, mtime).length / 2)
    expect(statSync(overlay).mode & 0o777).toBe(0o600)
    execFileSync('gzip', ['-t', overlay])
    const into = path.join(work, 'extracted')
    mkdirSync(into)
    execFileSync('tar', ['-xzpf', overlay, '-C', into])
    for (const entry of files) expect(readFileSync(path.join(into, entry.path)).equals(entry.content)).toBe(true)
  })

  it('gunzips to exactly tarArchive, whatever the files (empty, block-sized, long and non-ASCII paths)', () => {
    const fixed = [
      bundle(),
      [
        file('/a/empty', new Uint8Array(0)),
        file('/a/block', new Uint8Array(512).fill(0x41)),
        file('/a/zeros', new Uint8Array(1030)),
        file('/b/ends-in-zero', Buffer.from([1, 2, 0]))
      ],
      [file(`/${'deep/'.repeat(30)}key.pem`, Buffer.from('k'), 0o600), file('/var/düsseldorf/a.pem', Buffer.from('umlaut'))]
    ]
    for (const files of fixed) expect(gunzipSync(writeOverlay(files).bytes).equals(tarArchive(files, mtime))).toBe(true)
    const name = fc.stringMatching(/^[a-z]{1,12}$/)
    fc.assert(
      fc.property(fc.array(fc.record({ dir: name, base: name, content: fc.uint8Array({ maxLength: 1500 }) }), { minLength: 1, maxLength: 6 }), (entries) => {
        const files = entries.map((entry, index) => file(`/${entry.dir}/${index}-${entry.base}`, entry.content))
        expect(gunzipSync(writeOverlay(files).bytes).equals(tarArchive(files, mtime))).toBe(true)
      }),
      { numRuns: 60 }
    )
  })

  it('the gzip member carries no name and no time: two overlays of the same files are the same bytes', () => {
    const first = writeOverlay(bundle(), 'SN-A').bytes
    const second = writeOverlay(bundle(), 'SN-B').bytes
    expect(second.equals(first)).toBe(true)
    // ID1 ID2 CM, FLG 0 (no name, comment or extra), MTIME 0.
    expect([...first.subarray(0, 8)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0])
  })
})
