// What a reviewer must be told about the target partition (issue 17 items 2 and 6), through the
// bundled CLI and action on images made here with sfdisk, mkfs.ext4 and mkfs.vfat:
// - one slot of an A/B pair (rootfsA/rootfsB beside data): warned once, in the log (an annotation in
//   the action), the summary and the manifest's warnings, naming the data partition and how to
//   target it; targeting label=data is quiet;
// - a private key bound for FAT: warned the same way;
// - files already in the base image's credentials folder that the bundle does not replace:
//   recorded as pre-existing (path, size, SHA-256, mode, owner; OSTree-aware), warned about, and
//   accepted by verify exactly as recorded; a folder there is refused before issuing.
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildGptImage, buildGptOf, cleanupScratch, debugfsCat, mcopyRead, MiB, ROOTFS_TREE, run, scratchDir, type BuiltImage } from '../helpers/images.js'
import { readValidManifest } from '../helpers/manifest-schema.js'
import { buildOstreeImage, type OstreeImage } from '../helpers/ostree.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { runAction, runCli } from '../helpers/run.js'

const sha256 = (bytes: string | Buffer): string => createHash('sha256').update(bytes).digest('hex')

let work: string
let ca: CaFixture
let manifest: string
let ab: BuiltImage
let withFiles: BuiltImage
let ostreeWithFiles: OstreeImage

const OLD_PEM = '-----BEGIN CERTIFICATE-----\nold device certificate\n-----END CERTIFICATE-----\n'
const NOTES = 'provisioned at the factory\n'

beforeAll(async () => {
  work = await scratchDir('credbake-e2e-warnings-')
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Review Warnings CA' })
  manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, 'serial\nSN-0001\nSN-0002\n')
  ab = await buildGptOf(work, 'ab.img', [
    { fs: 'fat16', size: 16 * MiB, label: 'BOOT', name: 'boot' },
    { fs: 'ext4', size: 24 * MiB, label: 'rootfsA', name: 'rootfsA', files: ROOTFS_TREE },
    { fs: 'ext4', size: 24 * MiB, label: 'rootfsB', name: 'rootfsB', files: ROOTFS_TREE },
    { fs: 'ext4', size: 16 * MiB, label: 'data', name: 'data' }
  ])
  withFiles = await buildGptImage(work, {
    file: 'preexisting.img',
    rootSize: 24 * MiB,
    rootFiles: { ...ROOTFS_TREE, 'var/sota/import/old-device.pem': OLD_PEM, 'var/sota/import/notes.txt': NOTES, 'var/sota/import/client.pem': 'replaced by the bake\n' }
  })
  ostreeWithFiles = await buildOstreeImage(work, { table: 'gpt', stateroots: ['poky'], varFiles: { 'sota/import/notes.txt': NOTES } })
})

afterAll(async () => {
  cleanupPki()
  await cleanupScratch()
})

function bake(out: string, extra: string[]): ReturnType<typeof runCli> {
  return runCli(['bake', '--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', path.join(work, out), ...extra])
}

function verify(out: string): ReturnType<typeof runCli> {
  return runCli(['verify', '--manifest', path.join(work, out, 'credbake-manifest.json'), '--fleet-ca-cert', ca.certPath])
}

describe('A/B slots', () => {
  it('baking into rootfsA warns once: log, manifest, and through the action an annotation and the summary', () => {
    const cli = bake('ab-slot', ['--image', ab.path, '--partition', 'label=rootfsA'])
    expect(cli.status, cli.stderr).toBe(0)
    const lines = cli.stderr.split('\n').filter((l) => l.includes('one slot of an A/B pair'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^warning: .*Partition 2 \(rootfsA\) is one slot of an A\/B pair with partition 3 \(rootfsB\)/)
    expect(lines[0]).toContain('will not survive the first update')
    expect(lines[0]).toContain('partition 4 (data) (partition: label=data)')
    expect(lines[0]).toContain('/data/sota/import')
    const doc = readValidManifest(path.join(work, 'ab-slot/credbake-manifest.json'))
    expect(doc.warnings).toHaveLength(1)
    expect(doc.warnings[0].code).toBe('ab-slot')
    expect(doc.warnings[0].message).toBe(lines[0]!.replace(/^warning: [^:]+: /, ''))

    const action = runAction({
      manifest,
      'fleet-ca-cert': ca.certPem,
      'fleet-ca-key': ca.keyPem,
      image: ab.path,
      partition: 'name=rootfsB',
      'output-dir': path.join(work, 'ab-action')
    })
    expect(action.status, action.stdout + action.stderr).toBe(0)
    expect(action.stdout.split('\n').filter((l) => l.startsWith('::warning') && l.includes('A/B pair'))).toHaveLength(1)
    expect(action.summary).toContain('<h3>Warnings</h3>')
    expect(action.summary).toMatch(/<strong>ab-slot<\/strong>: Partition 3 \(rootfsB\) is one slot of an A\/B pair with partition 2 \(rootfsA\)/)
  })

  it('baking into label=data is quiet, and verify passes', () => {
    const result = bake('ab-data', ['--image', ab.path, '--partition', 'label=data', '--credentials-dir', '/sota/import'])
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr).not.toMatch(/^warning/m)
    const doc = readValidManifest(path.join(work, 'ab-data/credbake-manifest.json'))
    expect(doc.warnings).toBeUndefined()
    const image = path.join(work, 'ab-data', doc.devices[0].output.path)
    expect(debugfsCat(image, ab.part('data').start, '/sota/import/client.pem').toString()).toContain('BEGIN CERTIFICATE')
    expect(verify('ab-data').status).toBe(0)
  })
})

describe('a private key on FAT', () => {
  it('is warned about in the log and the manifest (fmask/umask), verify passes; inspect --files lists the partition output', () => {
    const gpt = path.join(work, 'fat-base.img')
    run('cp', ['--sparse=always', ab.path, gpt])
    const result = bake('fat-key', ['--image', gpt, '--partition', 'label=BOOT', '--format', 'partition'])
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/^warning: .*private key \(pkey\.pem, for devices without a csr\) goes into partition 1 \(boot, BOOT\), a fat16 file system/m)
    expect(result.stderr).toContain('fmask=0177,dmask=0077')
    const doc = readValidManifest(path.join(work, 'fat-key/credbake-manifest.json'))
    expect(doc.warnings.map((w: any) => w.code)).toEqual(['fat-private-key'])
    const output = path.join(work, 'fat-key', doc.devices[0].output.path)
    expect(mcopyRead(output, 0, '/var/sota/import/pkey.pem').toString()).toContain('PRIVATE KEY')
    expect(verify('fat-key').status).toBe(0)

    const listing = runCli(['inspect', '--files', output])
    expect(listing.status, listing.stderr).toBe(0)
    expect(listing.stdout).toContain('Files in /var/sota/import of the file system (no partition table)')
    expect(listing.stdout).toMatch(/-\(FAT\)\s+-\s+\d+\s+pkey\.pem/)
    expect(listing.stdout).toMatch(/-\(FAT\)\s+-\s+\d+\s+client\.pem/)
  })
})

describe('files already in the credentials folder', () => {
  it('are recorded once as pre-existing and warned about; verify accepts exactly them', () => {
    const result = bake('pre', ['--image', withFiles.path])
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/^warning: .*already holds 2 files the bundle does not replace: notes\.txt, old-device\.pem/m)
    const doc = readValidManifest(path.join(work, 'pre/credbake-manifest.json'))
    expect(doc.warnings.map((w: any) => w.code)).toEqual(['preexisting-files'])
    expect(doc.output.image.preexisting).toEqual([
      { path: '/var/sota/import/notes.txt', size: NOTES.length, sha256: sha256(NOTES), mode: '0644', owner: '0:0' },
      { path: '/var/sota/import/old-device.pem', size: OLD_PEM.length, sha256: sha256(OLD_PEM), mode: '0644', owner: '0:0' }
    ])
    // client.pem was replaced, so it is a bundle file, not a pre-existing one.
    expect(doc.devices[0].files.map((f: any) => f.path)).toContain('/var/sota/import/client.pem')
    const ok = verify('pre')
    expect(ok.status, ok.stdout + ok.stderr).toBe(0)

    // One output's pre-existing file changed: that device fails, naming it.
    const image = path.join(work, 'pre', doc.devices[1].output.path)
    const offset = withFiles.part('rootfs').start
    const host = path.join(work, 'notes.changed')
    writeFileSync(host, 'edited\n')
    writeFileSync(path.join(work, 'edit.debugfs'), `rm /var/sota/import/notes.txt\nwrite ${host} /var/sota/import/notes.txt\n`)
    run('debugfs', ['-w', '-f', path.join(work, 'edit.debugfs'), `${image}?offset=${offset}`])
    const bad = verify('pre')
    expect(bad.status).toBe(7)
    expect(bad.stdout + bad.stderr).toContain('notes.txt (pre-existing in the base image) is 7 bytes, the manifest records 27')
    expect(bad.stdout + bad.stderr).not.toContain('SN-0001: ')
  })

  it('on OSTree, at their sysroot paths', () => {
    const result = bake('pre-ostree', ['--image', ostreeWithFiles.path])
    expect(result.status, result.stderr).toBe(0)
    const doc = readValidManifest(path.join(work, 'pre-ostree/credbake-manifest.json'))
    expect(doc.output.image.preexisting).toEqual([
      { path: '/var/sota/import/notes.txt', partitionPath: '/ostree/deploy/poky/var/sota/import/notes.txt', size: NOTES.length, sha256: sha256(NOTES), mode: '0644', owner: '0:0' }
    ])
    expect(verify('pre-ostree').status).toBe(0)
  })

  it('a folder there is refused before anything is issued', async () => {
    const image = await buildGptImage(work, { file: 'subfolder.img', rootSize: 16 * MiB, rootFiles: { ...ROOTFS_TREE, 'var/sota/import/archive/old.pem': OLD_PEM } })
    const result = bake('pre-folder', ['--image', image.path])
    expect(result.status).toBe(4)
    expect(result.stderr).toContain('"archive" (a folder)')
    expect(existsSync(path.join(work, 'pre-folder/credbake-manifest.json'))).toBe(false)
    const journal = path.join(work, 'pre-folder/credbake-journal.jsonl')
    if (existsSync(journal)) expect(readFileSync(journal, 'utf8')).not.toContain('"type":"issued"')
  })
})
