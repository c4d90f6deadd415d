// OSTree images end to end (issue 17 item 1): otaroot partitions made as meta-updater makes them,
// with the real ostree CLI (test/helpers/ostree.ts), inside GPT and MBR images, baked through the
// bundled CLI and action. Files for /var land below the stateroot's var (read back with debugfs,
// which shares no code with credbake's reader), the top-level /var/sota stays absent, the log and
// the summary say where; several stateroots, a missing one and paths outside /var are refused
// before anything is issued; tar and dir outputs carry device paths, or sysroot paths with
// ostree-os; verify passes on each and fails once a file is moved back to the wrong place; inspect
// lists stateroots, deployments and the files.
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildGptImage, cleanupScratch, debugfsCat, debugfsStat, e2fsck, MiB, run, scratchDir } from '../helpers/images.js'
import { buildOstreeImage, type OstreeImage } from '../helpers/ostree.js'
import { readValidManifest } from '../helpers/manifest-schema.js'
import { extractTar } from '../helpers/outputs.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { runAction, runCli } from '../helpers/run.js'

const SYSROOT_IMPORT = (os: string): string => `/ostree/deploy/${os}/var/sota/import`

let work: string
let ca: CaFixture
let manifest: string
let gpt: OstreeImage
let mbr: OstreeImage
let several: OstreeImage

beforeAll(async () => {
  work = await scratchDir('credbake-e2e-ostree-')
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=OSTree Fleet CA' })
  manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, 'serial\nSN-0001\nSN-0002\n')
  // Built once per file (ostree and mkfs take a moment) and only ever read.
  gpt = await buildOstreeImage(work, { table: 'gpt', stateroots: ['poky'] })
  mbr = await buildOstreeImage(work, { table: 'mbr', stateroots: ['poky'] })
  several = await buildOstreeImage(work, { table: 'gpt', stateroots: ['poky', 'torizon'] })
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

/** Nothing was issued: no manifest, and no issued record in a journal (if one was made at all). */
function expectNothingIssued(out: string): void {
  expect(existsSync(path.join(work, out, 'credbake-manifest.json'))).toBe(false)
  const journal = path.join(work, out, 'credbake-journal.jsonl')
  if (existsSync(journal)) expect(readFileSync(journal, 'utf8')).not.toContain('"type":"issued"')
}

/** The device's files as debugfs reads them at their sysroot paths; the top-level /var/sota absent. */
function expectInSysroot(image: string, offset: number, os: string, device: any): void {
  expect(debugfsStat(image, offset, '/var/sota'), 'nothing at the top of the partition').toBeNull()
  expect(debugfsStat(image, offset, '/var'), 'not even /var').toBeNull()
  for (const file of device.files) {
    expect(file.partitionPath).toBe(`${SYSROOT_IMPORT(os)}/${path.posix.basename(file.path)}`)
    expect(file.path).toBe(`/var/sota/import/${path.posix.basename(file.path)}`)
    const stat = debugfsStat(image, offset, file.partitionPath)
    expect(stat, file.partitionPath).not.toBeNull()
    expect({ mode: stat!.mode, owner: `${stat!.uid}:${stat!.gid}` }).toEqual({ mode: file.mode, owner: file.owner })
  }
  const client = debugfsCat(image, offset, `${SYSROOT_IMPORT(os)}/client.pem`).toString()
  expect(new X509Certificate(client).subject).toBe(`CN=${device.serial}`)
  const key = debugfsCat(image, offset, `${SYSROOT_IMPORT(os)}/pkey.pem`)
  expect(new X509Certificate(client).checkPrivateKey(createPrivateKey(key))).toBe(true)
}

/** A copy of the image with `file` moved from the sysroot to the top-level /var/sota/import. */
function moveBackToTop(image: string, offset: number, os: string, name: string, copy: string): void {
  cpSync(image, copy)
  const host = path.join(work, `moved-${name}`)
  writeFileSync(host, debugfsCat(copy, offset, `${SYSROOT_IMPORT(os)}/${name}`))
  const script = path.join(work, 'move.debugfs')
  writeFileSync(script, [`rm ${SYSROOT_IMPORT(os)}/${name}`, 'mkdir /var', 'mkdir /var/sota', 'mkdir /var/sota/import', `write ${host} /var/sota/import/${name}`, ''].join('\n'))
  run('debugfs', ['-w', '-f', script, `${copy}?offset=${offset}`])
  rmSync(host)
  expect(debugfsStat(copy, offset, `/var/sota/import/${name}`)).not.toBeNull()
}

describe('one stateroot', () => {
  it('GPT image: files below /ostree/deploy/poky/var, said in the log; verify passes, and fails once a file is moved back to /var', () => {
    const result = bake('gpt-image', ['--image', gpt.path])
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/holds an OSTree sysroot: stateroot poky \(deployment [0-9a-f]{6}…[0-9a-f]{4}\.0\), the only one/)
    expect(result.stderr).toContain(`/var/sota/import is written to ${SYSROOT_IMPORT('poky')}`)
    const doc = readValidManifest(path.join(work, 'gpt-image/credbake-manifest.json'))
    expect(doc.output.ostree).toEqual({ os: 'poky', sysrootPaths: true, deployments: gpt.deployments.poky })
    const offset = gpt.part('otaroot').start
    for (const device of doc.devices) {
      const image = path.join(work, 'gpt-image', device.output.path)
      expectInSysroot(image, offset, 'poky', device)
      expect(e2fsck(image, offset).clean).toBe(true)
    }
    const ok = verify('gpt-image')
    expect(ok.status, ok.stdout + ok.stderr).toBe(0)

    // The same output with pkey.pem where a non-OSTree bake would have put it.
    const first = doc.devices[0]
    const image = path.join(work, 'gpt-image', first.output.path)
    moveBackToTop(image, offset, 'poky', 'pkey.pem', `${image}.moved`)
    renameSync(`${image}.moved`, image)
    const bad = verify('gpt-image')
    expect(bad.status).toBe(7)
    expect(bad.stdout + bad.stderr).toContain('pkey.pem is missing')
  })

  it('MBR image through the action, format partition: the summary names the stateroot; verify passes', () => {
    const out = path.join(work, 'mbr-partition')
    const result = runAction({ manifest, 'fleet-ca-cert': ca.certPem, 'fleet-ca-key': ca.keyPem, image: mbr.path, format: 'partition', 'output-dir': out })
    expect(result.status, result.stdout + result.stderr).toBe(0)
    expect(result.stdout).toMatch(/holds an OSTree sysroot: stateroot poky/)
    expect(result.summary).toContain('<th align="left">OSTree</th>')
    expect(result.summary).toMatch(/stateroot poky: \/var\/sota\/import in \/ostree\/deploy\/poky\/var\/sota\/import \(deployments: [0-9a-f]{64}\.0\)/)
    const doc = readValidManifest(path.join(out, 'credbake-manifest.json'))
    for (const device of doc.devices) expectInSysroot(path.join(out, device.output.path), 0, 'poky', device)
    const ok = runCli(['verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', ca.certPath])
    expect(ok.status, ok.stdout + ok.stderr).toBe(0)
  })
})

describe('several stateroots', () => {
  it('are refused before anything is issued, naming each', () => {
    const result = bake('several-refused', ['--image', several.path])
    expect(result.status).toBe(2)
    expect(result.stderr).toMatch(/2 stateroots: poky \(deployment [^)]+\); torizon \(deployment [^)]+\)/)
    expect(result.stderr).toContain('ostree-os: poky or ostree-os: torizon')
    expect(result.stderr).not.toMatch(/at .*\.js:\d+/)
    expectNothingIssued('several-refused')
  })

  it('a stateroot that is not there is refused naming those that are', () => {
    const result = bake('several-missing', ['--image', several.path, '--ostree-os', 'fedora'])
    expect(result.status).toBe(2)
    expect(result.stderr).toContain('no such stateroot (no /ostree/deploy/fedora/var)')
    expect(result.stderr).toContain('one of poky, torizon')
    expectNothingIssued('several-missing')
  })

  it('ostree-os chooses one: files in its var only', () => {
    const result = bake('several-torizon', ['--image', several.path, '--ostree-os', 'torizon'])
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/stateroot torizon \(deployment [^)]+\), chosen with ostree-os/)
    const doc = readValidManifest(path.join(work, 'several-torizon/credbake-manifest.json'))
    expect(doc.output.ostree.os).toBe('torizon')
    const offset = several.part('otaroot').start
    for (const device of doc.devices) {
      const image = path.join(work, 'several-torizon', device.output.path)
      expectInSysroot(image, offset, 'torizon', device)
      expect(debugfsStat(image, offset, SYSROOT_IMPORT('poky'))).toBeNull()
    }
    expect(verify('several-torizon').status).toBe(0)
  })
})

describe('refusals', () => {
  it('a credentials-dir outside /var, saying why and what to use', () => {
    const etc = bake('outside-etc', ['--image', gpt.path, '--credentials-dir', '/etc/sota/import'])
    expect(etc.status).toBe(2)
    expect(etc.stderr).toContain('credentials-dir')
    expect(etc.stderr).toMatch(/three-way merged/)
    expect(etc.stderr).toContain('/var/sota/import')
    expectNothingIssued('outside-etc')
    const usr = bake('outside-usr', ['--image', mbr.path, '--credentials-dir', '/usr/lib/sota'])
    expect(usr.status).toBe(2)
    expect(usr.stderr).toMatch(/read-only deployment/)
    expectNothingIssued('outside-usr')
  })

  it('ostree-os on an image without a sysroot', async () => {
    const plain = await buildGptImage(work, { file: 'plain.img', rootSize: 16 * MiB })
    const result = bake('no-sysroot', ['--image', plain.path, '--ostree-os', 'poky'])
    expect(result.status).toBe(2)
    expect(result.stderr).toMatch(/holds no OSTree sysroot/)
    expectNothingIssued('no-sysroot')
  })
})

describe('tar and dir outputs', () => {
  it('tar: device paths by default, sysroot paths with ostree-os; verify passes on both', () => {
    expect(bake('tar-device', ['--format', 'tar']).status).toBe(0)
    const plain = readValidManifest(path.join(work, 'tar-device/credbake-manifest.json'))
    expect(plain.output.ostree).toBeUndefined()
    expect(plain.devices[0].files[0]).not.toHaveProperty('partitionPath')
    const names = extractTar(path.join(work, 'tar-device', plain.devices[0].output.path)).map((e) => e.name)
    expect(names).toContain('var/sota/import/pkey.pem')

    const result = bake('tar-sysroot', ['--format', 'tar', '--ostree-os', 'poky'])
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr).toContain('the tar outputs hold the files at sysroot paths (/ostree/deploy/poky/var/…)')
    const doc = readValidManifest(path.join(work, 'tar-sysroot/credbake-manifest.json'))
    expect(doc.output.ostree).toEqual({ os: 'poky', sysrootPaths: true })
    const entries = extractTar(path.join(work, 'tar-sysroot', doc.devices[0].output.path))
    const key = entries.find((e) => e.name === 'ostree/deploy/poky/var/sota/import/pkey.pem')
    expect(key).toMatchObject({ mode: 0o600, uid: 0, gid: 0, type: 'file' })
    expect(entries.some((e) => e.name.startsWith('var/'))).toBe(false)
    expect(doc.devices[0].files.map((f: any) => [f.path, f.partitionPath])).toEqual(
      ['client.pem', 'pkey.pem'].map((name) => [`/var/sota/import/${name}`, `${SYSROOT_IMPORT('poky')}/${name}`])
    )
    for (const out of ['tar-device', 'tar-sysroot']) expect(verify(out).status, out).toBe(0)
  })

  it('dir: sysroot paths with ostree-os; SHA256SUMS names them; verify fails once a file is moved back to var/', () => {
    const result = bake('dir-sysroot', ['--format', 'dir', '--ostree-os', 'poky'])
    expect(result.status, result.stderr).toBe(0)
    const tree = path.join(work, 'dir-sysroot/devices/SN-0001')
    expect(existsSync(path.join(tree, 'ostree/deploy/poky/var/sota/import/pkey.pem'))).toBe(true)
    expect(existsSync(path.join(tree, 'var'))).toBe(false)
    const check = run('sh', ['-c', 'cd "$1" && sha256sum -c SHA256SUMS', 'sh', path.join(work, 'dir-sysroot')])
    expect(check).toContain('devices/SN-0001/ostree/deploy/poky/var/sota/import/client.pem: OK')
    expect(verify('dir-sysroot').status).toBe(0)

    mkdirSync(path.join(tree, 'var/sota/import'), { recursive: true })
    renameSync(path.join(tree, 'ostree/deploy/poky/var/sota/import/client.pem'), path.join(tree, 'var/sota/import/client.pem'))
    const bad = verify('dir-sysroot')
    expect(bad.status).toBe(7)
    expect(bad.stdout + bad.stderr).toContain('client.pem is missing')
  })

  it('a changed ostree-os is never kept on resume: the devices are issued anew', () => {
    expect(bake('tar-resume', ['--format', 'tar', '--ostree-os', 'poky']).status).toBe(0)
    const again = bake('tar-resume', ['--format', 'tar'])
    expect(again.status, again.stderr).toBe(0)
    expect(again.stderr).toContain('2 devices were issued anew (changed: ostree-os)')
    const doc = readValidManifest(path.join(work, 'tar-resume/credbake-manifest.json'))
    expect(doc.output.ostree).toBeUndefined()
    expect(doc.superseded.map((s: any) => s.reason)).toEqual(['reissued-changed', 'reissued-changed'])
    expect(verify('tar-resume').status).toBe(0)
    // Unchanged, it resumes.
    const kept = bake('tar-resume', ['--format', 'tar'])
    expect(kept.stderr).toContain('2 of 2 devices were already complete')
  })
})

describe('inspect', () => {
  it('lists the stateroots and deployments of the sysroot', () => {
    const text = runCli(['inspect', several.path])
    expect(text.status, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^Partition 2 \(otaroot\) holds an OSTree sysroot; stateroots \(ostree-os\) and deployments:$/m)
    for (const name of ['poky', 'torizon']) expect(text.stdout).toContain(`${name}: ${several.deployments[name]![0]}`)
    const json = JSON.parse(runCli(['inspect', '--json', several.path]).stdout)
    expect(json.partitions[1].ostree).toEqual({
      stateroots: [
        { name: 'poky', deployments: several.deployments.poky },
        { name: 'torizon', deployments: several.deployments.torizon }
      ],
      unusable: []
    })
    expect(json.partitions[0].ostree).toBeUndefined()
  })

  it('--files lists the credentials folder of a baked output, OSTree-aware', () => {
    const out = path.join(work, 'gpt-files')
    expect(bake('gpt-files', ['--image', gpt.path]).status).toBe(0)
    const doc = readValidManifest(path.join(out, 'credbake-manifest.json'))
    const image = path.join(out, doc.devices[0].output.path)
    const listing = runCli(['inspect', '--files', image])
    expect(listing.status, listing.stderr).toBe(0)
    expect(listing.stdout).toContain(`Files in ${SYSROOT_IMPORT('poky')} (/var/sota/import on the device, stateroot poky) of partition 2`)
    expect(listing.stdout).toMatch(/-rw-------\s+0:0\s+\d+\s+pkey\.pem/)
    expect(listing.stdout).toMatch(/-rw-r--r--\s+0:0\s+\d+\s+client\.pem/)
    const json = JSON.parse(runCli(['inspect', '--json', '--files', image]).stdout)
    expect(json.files).toMatchObject({ partition: 2, devicePath: '/var/sota/import', path: SYSROOT_IMPORT('poky'), ostree: 'poky' })
    expect(json.files.entries.map((e: any) => [e.name, e.mode, e.owner])).toEqual([
      ['client.pem', '0644', '0:0'],
      ['pkey.pem', '0600', '0:0']
    ])
  })
})
