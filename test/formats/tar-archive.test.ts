// The overlay's tar writer against two independent readers: tar-stream's packer as a reference
// encoder (byte-equal for every path ustar can hold) and GNU tar extracting the archive.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pack } from 'tar-stream'
import { afterAll, describe, expect, it } from 'vitest'
import type { BundleFile } from '../../src/bundle/types.js'
import { tarArchive } from '../../src/formats/tar-archive.js'

const work = mkdtempSync(path.join(os.tmpdir(), 'tar-archive-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const mtime = new Date('2026-03-04T05:06:07Z')

function file(devicePath: string, content: string, mode = 0o644): BundleFile {
  return { path: devicePath, content: Buffer.from(content), mode, uid: 0, gid: 0, secret: mode === 0o600 }
}

/** What tar-stream makes of the same entries (directories before their first file). */
async function reference(files: BundleFile[]): Promise<Buffer> {
  const archive = pack()
  const seen = new Set<string>()
  for (const entry of files) {
    const parts = entry.path.split('/').filter(Boolean)
    for (let depth = 1; depth < parts.length; depth++) {
      const dir = `${parts.slice(0, depth).join('/')}/`
      if (seen.has(dir)) continue
      seen.add(dir)
      archive.entry({ name: dir, type: 'directory', mode: 0o755, uid: 0, gid: 0, uname: 'root', gname: 'root', mtime })
    }
    archive.entry({ name: parts.join('/'), type: 'file', mode: entry.mode, uid: 0, gid: 0, uname: 'root', gname: 'root', mtime }, entry.content)
  }
  archive.finalize()
  const chunks: Buffer[] = []
  for await (const chunk of archive) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function extract(archive: Buffer, name: string): string {
  const file = path.join(work, `${name}.tar`)
  const into = path.join(work, name)
  writeFileSync(file, archive)
  execFileSync('mkdir', ['-p', into])
  execFileSync('tar', ['-xpf', file, '-C', into])
  return into
}

describe('tarArchive', () => {
  const bundle = [
    file('/var/sota/import/client.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
    file('/var/sota/import/pkey.pem', 'secret key bytes\n', 0o600),
    file('/var/sota/import/root.crt', 'x'.repeat(512)),
    file('/var/sota/import/gateway.url', ''),
    file('/etc/other/file', 'y'.repeat(1000))
  ]

  it('is byte-equal to tar-stream for an aktualizr bundle', async () => {
    expect(tarArchive(bundle, mtime).equals(await reference(bundle))).toBe(true)
  })

  it('splits long paths into ustar prefix and name as tar-stream does', async () => {
    const long = [file(`/${'deep/'.repeat(30)}pkey.pem`, 'k', 0o600)]
    const ours = tarArchive(long, mtime)
    expect(ours.equals(await reference(long))).toBe(true)
    const into = extract(ours, 'long')
    expect(readFileSync(path.join(into, long[0]!.path), 'utf8')).toBe('k')
  })

  it('GNU tar extracts contents and modes', () => {
    const into = extract(tarArchive(bundle, mtime), 'plain')
    for (const entry of bundle) {
      const on = path.join(into, entry.path)
      expect(readFileSync(on).equals(entry.content)).toBe(true)
      expect(statSync(on).mode & 0o7777).toBe(entry.mode)
      expect(statSync(on).mtimeMs).toBe(mtime.getTime())
    }
    expect(statSync(path.join(into, 'var/sota')).mode & 0o7777).toBe(0o755)
    const listing = execFileSync('tar', ['-tvf', path.join(work, 'plain.tar')], { encoding: 'utf8' })
    expect(listing).toMatch(/-rw------- root\/root\s+17 2026-03-04 \d\d:06 var\/sota\/import\/pkey\.pem/)
  })

  it('carries paths ustar cannot hold in a pax header that GNU tar honours', () => {
    const odd = [file(`/${'x'.repeat(120)}/${'y'.repeat(120)}/key.pem`, 'long', 0o600), file('/var/düsseldorf/a.pem', 'umlaut')]
    const into = extract(tarArchive(odd, mtime), 'pax')
    expect(readFileSync(path.join(into, odd[0]!.path), 'utf8')).toBe('long')
    expect(statSync(path.join(into, odd[0]!.path)).mode & 0o7777).toBe(0o600)
    expect(readFileSync(path.join(into, odd[1]!.path), 'utf8')).toBe('umlaut')
  })
})
