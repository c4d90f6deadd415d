// output-dir/SHA256SUMS: the writer on a hand-made output-dir, then real bakes through the CLI
// (tar, image with bmap, dir), each checked by coreutils' `sha256sum -c` run from output-dir;
// a changed byte in one output makes it fail, naming that file.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deviceSums, Sha256SumsWriter, sha256SumsLine, SHA256SUMS_FILE } from '../../src/exports/sha256sums.js'
import type { ManifestDevice } from '../../src/shapes/review.js'
import { buildGptImage, cleanupScratch, MiB, pokeBytes, scratchDir } from '../helpers/images.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { runCli } from '../helpers/run.js'

const sha = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex')

let work: string
beforeAll(async () => {
  work = await scratchDir('credbake-sums-')
})
afterAll(async () => {
  cleanupPki()
  await cleanupScratch()
})

function sha256sumCheck(dir: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('sha256sum', ['--strict', '-c', SHA256SUMS_FILE], { cwd: dir, encoding: 'utf8' })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

function device(serial: string, output: ManifestDevice['output'], files: ManifestDevice['files'] = []): ManifestDevice {
  return {
    serial,
    deviceId: serial,
    certificate: {
      serialNumber: '0'.repeat(32),
      subject: `CN=${serial}`,
      sha256: '0'.repeat(64),
      publicKeySha256: '0'.repeat(64),
      notBefore: '',
      notAfter: '',
      keySource: 'generated'
    },
    output,
    files
  } as ManifestDevice
}

describe('Sha256SumsWriter', () => {
  it('writes sha256sum -c lines in the order given, atomically, 0644; sha256sum agrees', async () => {
    const dir = path.join(work, 'hand')
    mkdirSync(path.join(dir, 'overlays'), { recursive: true })
    mkdirSync(path.join(dir, 'devices/SN-2/var/sota/import'), { recursive: true })
    const tar = Buffer.from('pretend tar.gz')
    writeFileSync(path.join(dir, 'overlays/SN-1.tar.gz'), tar)
    const cert = 'client certificate\n'
    writeFileSync(path.join(dir, 'devices/SN-2/var/sota/import/client.pem'), cert)
    writeFileSync(path.join(dir, 'devices/SN-2/var/sota/import/pkey.pem'), 'secret', { mode: 0o600 })
    const odd = 'name with spaces and a \\ backslash'
    writeFileSync(path.join(dir, odd), 'odd')

    const writer = Sha256SumsWriter.open(dir)
    await writer.addDevice(device('SN-1', { path: 'overlays/SN-1.tar.gz', size: tar.length, sha256: sha(tar) }), 'tar')
    await writer.addDevice(
      device('SN-2', { path: 'devices/SN-2', size: 0, sha256: 'f'.repeat(64) }, [
        { path: '/var/sota/import/client.pem', mode: '0644', owner: '0:0', sha256: sha(cert), size: cert.length, privateKey: false },
        { path: '/var/sota/import/pkey.pem', mode: '0600', owner: '0:0', privateKey: true }
      ]),
      'dir'
    )
    await writer.add(odd, sha('odd'))
    // Nothing visible before commit.
    expect(readdirSync(dir)).not.toContain(SHA256SUMS_FILE)
    const file = await writer.commit()
    expect(file).toBe(path.join(dir, SHA256SUMS_FILE))
    expect(statSync(file).mode & 0o777).toBe(0o644)
    expect(readdirSync(dir).filter((name) => name.includes('.tmp-'))).toEqual([])
    const text = readFileSync(file, 'utf8')
    expect(text.split('\n')).toEqual([
      `${sha(tar)}  overlays/SN-1.tar.gz`,
      `${sha(cert)}  devices/SN-2/var/sota/import/client.pem`,
      `\\${sha('odd')}  name with spaces and a \\\\ backslash`,
      ''
    ])
    expect(text).not.toContain('pkey.pem')
    expect(text).not.toContain('\r')
    const check = sha256sumCheck(dir)
    expect(check.status, check.stdout + check.stderr).toBe(0)
    // A changed byte fails, naming the file.
    writeFileSync(path.join(dir, 'devices/SN-2/var/sota/import/client.pem'), 'client certificatE\n')
    const failed = sha256sumCheck(dir)
    expect(failed.status).not.toBe(0)
    expect(failed.stdout).toContain('devices/SN-2/var/sota/import/client.pem: FAILED')
    expect(failed.stdout).toContain('overlays/SN-1.tar.gz: OK')
  })

  it('lists a bmap beside its image; refuses paths outside output-dir and malformed digests', async () => {
    expect(
      deviceSums(device('SN-3', { path: 'images/SN-3.img.zst', size: 1, sha256: 'a'.repeat(64), bmap: { path: 'images/SN-3.img.bmap', sha256: 'b'.repeat(64) } }), 'image')
    ).toEqual([
      ['images/SN-3.img.zst', 'a'.repeat(64)],
      ['images/SN-3.img.bmap', 'b'.repeat(64)]
    ])
    expect(() => sha256SumsLine('../x', 'a'.repeat(64))).toThrow(/not a path inside output-dir/)
    expect(() => sha256SumsLine('/etc/passwd', 'a'.repeat(64))).toThrow(/not a path inside output-dir/)
    expect(() => sha256SumsLine('x', 'A'.repeat(64))).toThrow(/not a lower-case SHA-256/)
    expect(sha256SumsLine('a\nb', 'c'.repeat(64))).toBe(`\\${'c'.repeat(64)}  a\\nb\n`)
  })

  it('abandon leaves nothing behind', async () => {
    const dir = path.join(work, 'abandoned')
    mkdirSync(dir)
    const writer = Sha256SumsWriter.open(dir)
    await writer.add('x', 'a'.repeat(64))
    await writer.abandon()
    expect(readdirSync(dir)).toEqual([])
  })
})

describe('SHA256SUMS after a bake, checked by sha256sum -c from output-dir', () => {
  let fleet: CaFixture
  let manifest: string
  let image: string

  beforeAll(async () => {
    fleet = makeRootCa({ subject: '/CN=sums test fleet CA' })
    manifest = path.join(work, 'devices.csv')
    writeFileSync(manifest, 'serial\nSN-S1\nSN-S2\nSN-S3\n')
    image = (await buildGptImage(work, { rootSize: 16 * MiB })).path
  })

  function bake(out: string, extra: string[]): string[] {
    const result = runCli([
      'bake',
      '--manifest',
      manifest,
      '--fleet-ca-cert',
      fleet.certPath,
      '--fleet-ca-key',
      fleet.keyPath,
      '--gateway-url',
      'https://gw.example.com',
      '--output-dir',
      out,
      ...extra
    ])
    expect(result.status, result.stdout + result.stderr).toBe(0)
    const lines = readFileSync(path.join(out, SHA256SUMS_FILE), 'utf8').split('\n')
    expect(lines.pop()).toBe('')
    for (const line of lines) expect(line).toMatch(/^[0-9a-f]{64} {2}[^/].*$/)
    const check = sha256sumCheck(out)
    expect(check.status, check.stdout + check.stderr).toBe(0)
    return lines.map((line) => line.slice(66))
  }

  it('tar: one line per overlay; a changed byte fails', () => {
    const out = path.join(work, 'out-tar')
    const listed = bake(out, ['--format', 'tar'])
    expect(listed.sort()).toEqual(['overlays/SN-S1.tar.gz', 'overlays/SN-S2.tar.gz', 'overlays/SN-S3.tar.gz'])
    pokeBytes(path.join(out, 'overlays/SN-S2.tar.gz'), 20, [0x55])
    const failed = sha256sumCheck(out)
    expect(failed.status).not.toBe(0)
    expect(failed.stdout).toContain('overlays/SN-S2.tar.gz: FAILED')
    expect(failed.stdout).toContain('overlays/SN-S1.tar.gz: OK')
  })

  it('image with bmap: the images and their bmaps; a changed byte in an image fails', () => {
    const out = path.join(work, 'out-image')
    const listed = bake(out, ['--image', image, '--bmap'])
    expect(listed.sort()).toEqual(['SN-S1', 'SN-S2', 'SN-S3'].flatMap((s) => [`images/${s}.img`, `images/${s}.img.bmap`]).sort())
    pokeBytes(path.join(out, 'images/SN-S3.img'), 1 * MiB + 1024, [0x01])
    const failed = sha256sumCheck(out)
    expect(failed.status).not.toBe(0)
    expect(failed.stdout).toContain('images/SN-S3.img: FAILED')
  })

  it('dir: every file of each tree but the private keys (key files are 0600; sha256sum reads them as the same user)', () => {
    const out = path.join(work, 'out-dir')
    const listed = bake(out, ['--format', 'dir'])
    expect(listed.sort()).toEqual(['SN-S1', 'SN-S2', 'SN-S3'].flatMap((s) => [`devices/${s}/var/sota/import/client.pem`, `devices/${s}/var/sota/import/gateway.url`]).sort())
    expect(statSync(path.join(out, 'devices/SN-S1/var/sota/import/pkey.pem')).mode & 0o777).toBe(0o600)
  })
})
