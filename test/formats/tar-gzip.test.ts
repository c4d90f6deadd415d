// The overlay gzip encoder against independent readers: zlib's gunzip (which checks the CRC-32 and
// length in the trailer) for arbitrary inputs, and GNU tar and gzip -t for a real overlay.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import type { BundleFile } from '../../src/bundle/types.js'
import { tarArchive } from '../../src/formats/tar-archive.js'
import { gzipTar, overlayGzip } from '../../src/formats/tar-gzip.js'

const work = mkdtempSync(path.join(os.tmpdir(), 'tar-gzip-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('gzipTar', () => {
  it('round-trips through gunzip for arbitrary bytes, runs and repeats', () => {
    const chunk = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.record({ byte: fc.integer({ min: 0, max: 255 }), length: fc.integer({ min: 1, max: 2000 }) }).map(({ byte, length }) => new Uint8Array(length).fill(byte)),
      fc.constantFrom(new TextEncoder().encode('-----BEGIN CERTIFICATE-----\nMIIB'), new Uint8Array(512))
    )
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 40 }), (chunks) => {
        const input = Buffer.concat(chunks)
        const packed = gzipTar(input)
        expect(gunzipSync(packed).equals(input)).toBe(true)
      }),
      { numRuns: 400 }
    )
  })

  it('handles the edges: empty, one byte, a 258-byte and a longer run, matches across 32 KiB', () => {
    const far = Buffer.concat([Buffer.from('0123456789abcdef'.repeat(4)), Buffer.alloc(40000, 7), Buffer.from('0123456789abcdef'.repeat(4))])
    for (const input of [Buffer.alloc(0), Buffer.from([0xff]), Buffer.alloc(258), Buffer.alloc(259, 1), Buffer.alloc(100000), far]) {
      expect(gunzipSync(gzipTar(input)).equals(input)).toBe(true)
    }
  })

  it('overlayGzip gunzips to exactly tarArchive, whatever the files (empty, block-sized, long and non-ASCII paths)', () => {
    const mtime = new Date('2026-03-04T05:06:07Z')
    const file = (devicePath: string, content: Uint8Array, mode = 0o644): BundleFile => ({
      path: devicePath,
      content: Buffer.from(content),
      mode,
      uid: 0,
      gid: 0,
      secret: mode === 0o600
    })
    const fixed = [
      [
        file('/var/sota/import/client.pem', Buffer.from('-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n')),
        file('/var/sota/import/pkey.pem', Buffer.from('k\n'), 0o600)
      ],
      [
        file('/a/empty', new Uint8Array(0)),
        file('/a/block', new Uint8Array(512).fill(0x41)),
        file('/a/zeros', new Uint8Array(1030)),
        file('/b/ends-in-zero', Buffer.from([1, 2, 0]))
      ],
      [file(`/${'deep/'.repeat(30)}key.pem`, Buffer.from('k'), 0o600), file('/var/düsseldorf/a.pem', Buffer.from('umlaut'))]
    ]
    for (const files of fixed) expect(gunzipSync(overlayGzip(files, mtime)).equals(tarArchive(files, mtime))).toBe(true)
    const name = fc.stringMatching(/^[a-z]{1,12}$/)
    fc.assert(
      fc.property(fc.array(fc.record({ dir: name, base: name, content: fc.uint8Array({ maxLength: 1500 }) }), { minLength: 1, maxLength: 6 }), (entries) => {
        const files = entries.map((entry, index) => file(`/${entry.dir}/${index}-${entry.base}`, entry.content))
        // Twice: the second archive reuses the headers' compressed bits.
        for (let round = 0; round < 2; round++) expect(gunzipSync(overlayGzip(files, mtime)).equals(tarArchive(files, mtime))).toBe(true)
      }),
      { numRuns: 200 }
    )
  })

  it('makes an overlay smaller than its tar, which gzip -t accepts and GNU tar extracts', () => {
    const files: BundleFile[] = [
      {
        path: '/var/sota/import/client.pem',
        content: Buffer.from(`-----BEGIN CERTIFICATE-----\n${'QUJD'.repeat(150)}\n-----END CERTIFICATE-----\n`),
        mode: 0o644,
        uid: 0,
        gid: 0,
        secret: false
      },
      { path: '/var/sota/import/pkey.pem', content: Buffer.from('-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n'), mode: 0o600, uid: 0, gid: 0, secret: true }
    ]
    const tar = tarArchive(files, new Date('2026-03-04T05:06:07Z'))
    const packed = overlayGzip(files, new Date('2026-03-04T05:06:07Z'))
    expect(packed.length).toBeLessThan(tar.length / 2)
    const file = path.join(work, 'overlay.tar.gz')
    writeFileSync(file, packed)
    execFileSync('gzip', ['-t', file])
    const into = path.join(work, 'out')
    execFileSync('mkdir', ['-p', into])
    execFileSync('tar', ['-xzpf', file, '-C', into])
    for (const entry of files) expect(readFileSync(path.join(into, entry.path)).equals(entry.content)).toBe(true)
  })
})
