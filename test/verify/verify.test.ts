// Issue 10, item 1: `credbake verify` through the bundled CLI (node dist/cli.js). Fresh bakes of
// every format pass; each kind of tampering, done with tools that share no code with credbake
// (cp, GNU tar, openssl, debugfs -w, mcopy -o, truncate), fails exactly the tampered devices and
// says what differs; a manifest that is missing, not JSON or off its schema is refused (exit 2)
// with one line. openssl verify confirms independently that the passing certificates chain.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCliAsync, type ChildResult } from '../helpers/faults.js'
import { buildGptImage, cleanupScratch, MiB, run, scratchDir, type BuiltImage } from '../helpers/images.js'
import { splitPems } from '../helpers/outputs.js'
import { cleanupPki, makeIntermediateCa, makeRootCa, openssl, opensslVerify, type CaFixture } from '../helpers/pki.js'

const CRED = '/var/sota/import'
const GATEWAY = 'https://gateway.example.com:8443'

let work: string
let fleet: CaFixture
let otherCa: CaFixture
let serverCa: CaFixture
let gpt: BuiltImage

beforeAll(async () => {
  work = await scratchDir('credbake-verify-')
  fleet = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Verify Fleet Root' })
  otherCa = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Verify Fleet Root' })
  serverCa = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Verify Server CA' })
  gpt = await buildGptImage(work, { rootSize: 16 * MiB })
})

afterAll(async () => {
  cleanupPki()
  await cleanupScratch()
})

function deviceManifest(name: string, serials: string[]): string {
  const file = path.join(work, `${name}.csv`)
  writeFileSync(file, `serial\n${serials.join('\n')}\n`)
  return file
}

async function bake(name: string, serials: string[], extra: string[] = []): Promise<string> {
  const out = path.join(work, name)
  const result = await runCliAsync([
    'bake',
    '--manifest',
    deviceManifest(name, serials),
    '--fleet-ca-cert',
    fleet.certPath,
    '--fleet-ca-key',
    fleet.keyPath,
    '--server-ca',
    serverCa.certPath,
    '--gateway-url',
    GATEWAY,
    '--output-dir',
    out,
    ...extra
  ])
  expect(result.status, result.stderr).toBe(0)
  return out
}

function verify(out: string, extra: string[] = []): Promise<ChildResult> {
  return runCliAsync(['verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', fleet.certPath, ...extra])
}

/** serial → its failure line, from verify's text output. */
function failures(result: ChildResult): Map<string, string> {
  const lines = result.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('verified ') && !l.startsWith('review: '))
  return new Map(lines.map((l) => [l.slice(0, l.indexOf(':')), l]))
}

async function expectPass(out: string, count: number): Promise<void> {
  const result = await verify(out)
  expect(result.stderr).toBe('')
  expect(result.stdout).toBe(`verified ${count} devices: ${count} passed, 0 failed\n`)
  expect(result.status).toBe(0)
}

/** Verify fails exactly `serials`; returns their lines. */
async function expectFailed(out: string, total: number, serials: string[]): Promise<Map<string, string>> {
  const result = await verify(out)
  expect(result.status, result.stdout + result.stderr).toBe(7)
  const failed = failures(result)
  expect([...failed.keys()].sort()).toEqual([...serials].sort())
  expect(result.stdout).toContain(`verified ${total} devices: ${total - serials.length} passed, ${serials.length} failed\n`)
  return failed
}

/** A copy of a baked output-dir to tamper with (the manifest's folder, so output paths resolve). */
function copyOf(out: string, name: string): string {
  const copy = path.join(work, name)
  cpSync(out, copy, { recursive: true, preserveTimestamps: true })
  return copy
}

function manifestOf(out: string): any {
  return JSON.parse(readFileSync(path.join(out, 'credbake-manifest.json'), 'utf8'))
}

describe('dir outputs', () => {
  const serials = ['TR-01', 'TR-02', 'TR-03']
  let out: string
  beforeAll(async () => {
    out = await bake('dir', serials, ['--format', 'dir'])
  })

  it('a fresh bake passes, and openssl agrees every certificate chains to the fleet CA', async () => {
    await expectPass(out, 3)
    const pems = serials.map((s) => splitPems(readFileSync(path.join(out, 'devices', s, CRED, 'client.pem'), 'utf8'))[0]!)
    const checked = opensslVerify(pems, { trustedPem: fleet.certPem })
    expect(checked.ok, checked.output).toBe(true)
    const json = await verify(out, ['--json'])
    expect(json.status).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual({ devices: serials.map((serial) => ({ serial, ok: true, problems: [] })), problems: [], passed: 3, failed: 0 })
  })

  it('keys swapped between two devices fail those two devices only', async () => {
    const copy = copyOf(out, 'dir-swapped')
    const key = (s: string): string => path.join(copy, 'devices', s, CRED, 'pkey.pem')
    renameSync(key('TR-01'), path.join(copy, 'k1'))
    renameSync(key('TR-02'), key('TR-01'))
    renameSync(path.join(copy, 'k1'), key('TR-02'))
    const failed = await expectFailed(copy, 3, ['TR-01', 'TR-02'])
    expect(failed.get('TR-01')).toContain('pkey.pem does not match the certificate')
    expect(failed.get('TR-02')).toContain('pkey.pem does not match the certificate')
    const json = await verify(copy, ['--json'])
    expect(json.status).toBe(7)
    const report = JSON.parse(json.stdout)
    expect(report.passed).toBe(1)
    expect(report.failed).toBe(2)
    expect(report.devices.find((d: any) => d.serial === 'TR-03')).toEqual({ serial: 'TR-03', ok: true, problems: [] })
  })

  it('a certificate replaced by one for the same key from another CA fails that device', async () => {
    const copy = copyOf(out, 'dir-cert')
    const dir = path.join(copy, 'devices', 'TR-02', CRED)
    // Same key, same subject, issued by a CA that merely has the same name.
    const csr = openssl(['req', '-new', '-key', path.join(dir, 'pkey.pem'), '-subj', '/CN=TR-02'])
    const forged = openssl(['x509', '-req', '-CA', otherCa.certPath, '-CAkey', otherCa.keyPath, '-days', '30', '-set_serial', '0x1234'], { input: csr })
    writeFileSync(path.join(dir, 'client.pem'), forged)
    expect(opensslVerify([forged], { trustedPem: fleet.certPem, purpose: 'any', strict: false }).ok).toBe(false)
    const failed = await expectFailed(copy, 3, ['TR-02'])
    expect(failed.get('TR-02')).toMatch(/client\.pem: .*does not verify|client\.pem: it does not chain/)
    expect(failed.get('TR-02')).toContain('client.pem holds certificate')
    expect(failed.get('TR-02')).not.toContain('pkey.pem does not match')
  })

  it('a certificate from the fleet CA itself but off the profile fails that device, naming each difference', async () => {
    const copy = copyOf(out, 'dir-profile')
    const dir = path.join(copy, 'devices', 'TR-03', CRED)
    const csr = openssl(['req', '-new', '-key', path.join(dir, 'pkey.pem'), '-subj', '/CN=TR-03'])
    const ext = path.join(work, 'off-profile.ext')
    writeFileSync(ext, 'basicConstraints=CA:TRUE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n')
    const offProfile = openssl(['x509', '-req', '-CA', fleet.certPath, '-CAkey', fleet.keyPath, '-days', '30', '-extfile', ext], { input: csr })
    // openssl, independently: it does chain to the fleet CA.
    expect(opensslVerify([offProfile], { trustedPem: fleet.certPem, purpose: 'any', strict: false }).ok).toBe(true)
    writeFileSync(path.join(dir, 'client.pem'), offProfile)
    const failed = await expectFailed(copy, 3, ['TR-03'])
    const line = failed.get('TR-03')!
    expect(line).toContain('client.pem: basicConstraints is not critical, the profile says critical')
    expect(line).toContain('client.pem: basicConstraints is CA:TRUE, the profile says CA:FALSE')
    expect(line).toContain('client.pem: extendedKeyUsage is serverAuth, the profile says clientAuth')
    expect(line).toContain('client.pem: serial number')
    expect(line).not.toContain('does not chain')
    expect(line).not.toContain('pkey.pem does not match')
  })

  it('an extra file in the credentials folder fails that device, naming the file', async () => {
    const copy = copyOf(out, 'dir-extra')
    writeFileSync(path.join(copy, 'devices', 'TR-03', CRED, 'backdoor.pem'), 'x\n')
    const failed = await expectFailed(copy, 3, ['TR-03'])
    expect(failed.get('TR-03')).toContain(`backdoor.pem in ${CRED} is not in the manifest (an extra file)`)
  })

  it('a missing output fails that device with one clear problem', async () => {
    const copy = copyOf(out, 'dir-missing')
    rmSync(path.join(copy, 'devices', 'TR-01'), { recursive: true })
    const failed = await expectFailed(copy, 3, ['TR-01'])
    expect(failed.get('TR-01')).toBe('TR-01: output devices/TR-01 is missing')
  })

  it('an output path in the manifest that leaves output-dir fails that device without reading there', async () => {
    const copy = copyOf(out, 'dir-escape')
    const doc = manifestOf(copy)
    doc.devices[1].output.path = 'devices/../../dir'
    writeFileSync(path.join(copy, 'credbake-manifest.json'), JSON.stringify(doc, null, 2))
    const failed = await expectFailed(copy, 3, ['TR-02'])
    expect(failed.get('TR-02')).toMatch(/^TR-02: output path "devices\/\.\.\/\.\.\/dir" is not the one credbake gives serial TR-02 \(devices\/TR-02\); SHA256SUMS /)
  })

  it('--output-dir points at outputs moved away from the manifest', async () => {
    const moved = copyOf(out, 'dir-moved')
    const manifestDir = path.join(work, 'dir-manifest-only')
    mkdirSync(manifestDir)
    cpSync(path.join(out, 'credbake-manifest.json'), path.join(manifestDir, 'credbake-manifest.json'))
    const wrong = await verify(manifestDir)
    expect(wrong.status).toBe(7)
    expect(failures(wrong).size).toBe(3)
    const right = await verify(manifestDir, ['--output-dir', moved])
    expect(right.stdout).toBe('verified 3 devices: 3 passed, 0 failed\n')
    expect(right.status).toBe(0)
  })
})

describe('tar owners', () => {
  it('an owner changed in a rebuilt tar fails that device, naming file and owners', async () => {
    const out = await bake('tar-owner', ['TO-01', 'TO-02'], ['--format', 'tar'])
    const archive = path.join(out, 'overlays', 'TO-01.tar.gz')
    const unpacked = path.join(work, 'tar-owner-x')
    mkdirSync(unpacked)
    run('tar', ['-xzpf', archive, '-C', unpacked])
    run('tar', ['-czf', archive, '--owner=1000', '--group=1000', '--numeric-owner', '-C', unpacked, 'var'])
    rmSync(unpacked, { recursive: true })
    const failed = await expectFailed(out, 2, ['TO-01'])
    expect(failed.get('TO-01')).toContain('pkey.pem is owned by 1000:1000, the manifest records 0:0')
    expect(failed.get('TO-01')).toContain('client.pem is owned by 1000:1000, the manifest records 0:0')
    expect(failed.get('TO-01')).not.toContain('has mode')
  })
})

describe('an intermediate fleet CA, verified against the root alone', () => {
  it.each(['aktualizr', 'flat'])('layout %s: intermediates come from the bundle, and a foreign root is refused', async (layout) => {
    const root = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Verify Root' })
    const issuing = makeIntermediateCa(root, { keyType: 'ec-p256', subject: '/CN=Verify Issuing CA' })
    const out = path.join(work, `chain-${layout}`)
    const baked = await runCliAsync([
      'bake',
      '--manifest',
      deviceManifest(`chain-${layout}`, ['CH-01', 'CH-02']),
      '--fleet-ca-cert',
      issuing.chainPath,
      '--fleet-ca-key',
      issuing.keyPath,
      '--layout',
      layout,
      '--format',
      'tar',
      '--output-dir',
      out
    ])
    expect(baked.status, baked.stderr).toBe(0)
    const manifest = path.join(out, 'credbake-manifest.json')
    const ok = await runCliAsync(['verify', '--manifest', manifest, '--fleet-ca-cert', root.certPath])
    expect(ok.stdout).toBe('verified 2 devices: 2 passed, 0 failed\n')
    expect(ok.status).toBe(0)
    const foreign = await runCliAsync(['verify', '--manifest', manifest, '--fleet-ca-cert', otherCa.certPath])
    expect(foreign.status).toBe(7)
    expect([...failures(foreign).keys()].sort()).toEqual(['CH-01', 'CH-02'])
    expect(foreign.stdout).toContain('does not chain to fleet-ca-cert')
  })
})

describe('a merged review of shards', () => {
  it('passes, and a tampered output in it fails only that device', async () => {
    const serials = ['MS-01', 'MS-02', 'MS-03', 'MS-04', 'MS-05', 'MS-06']
    const shards: string[] = []
    for (const shard of ['1/2', '2/2']) shards.push(await bake(`shard-${shard[0]}`, serials, ['--format', 'tar', '--shard', shard]))
    const merged = path.join(work, 'merged')
    const result = await runCliAsync(['merge', '--output-dir', merged, ...shards.map((d) => path.join(d, 'credbake-manifest.json'))])
    expect(result.status, result.stderr).toBe(0)
    await expectPass(merged, 6)
    const tampered = copyOf(merged, 'merged-tampered')
    const archive = path.join(tampered, 'overlays', 'MS-04.tar.gz')
    rmSync(archive)
    writeFileSync(archive, readFileSync(path.join(tampered, 'overlays', 'MS-05.tar.gz')))
    const failed = await expectFailed(tampered, 6, ['MS-04'])
    expect(failed.get('MS-04')).toContain('client.pem holds certificate')
    // The whole archive of another device: its key matches its own certificate, which is not MS-04's.
    expect(failed.get('MS-04')).toContain('client.pem: subject "CN=MS-05", the manifest records "CN=MS-04"')
    expect(failed.get('MS-04')).not.toContain('pkey.pem does not match')
  })
})

describe('tar outputs', () => {
  let out: string
  beforeAll(async () => {
    out = await bake('tar', ['TT-01', 'TT-02'], ['--format', 'tar'])
  })

  it('a fresh bake passes', async () => {
    await expectPass(out, 2)
  })

  it('a mode changed in a rebuilt tar fails that device, naming file and modes', async () => {
    const copy = copyOf(out, 'tar-mode')
    const archive = path.join(copy, 'overlays', 'TT-02.tar.gz')
    const unpacked = path.join(work, 'tar-mode-x')
    mkdirSync(unpacked)
    run('tar', ['-xzpf', archive, '-C', unpacked])
    // GNU tar --mode: the key becomes group/other readable (0600 -> 0644); everything else stays.
    run('tar', ['-czf', archive, '--owner=0', '--group=0', '--numeric-owner', '--mode=go+r', '-C', unpacked, 'var'])
    rmSync(unpacked, { recursive: true })
    const failed = await expectFailed(copy, 2, ['TT-02'])
    expect(failed.get('TT-02')).toContain('pkey.pem has mode 0644, the manifest records 0600')
    expect(failed.get('TT-02')).not.toContain('client.pem has mode')
  })
})

describe('image outputs', () => {
  let out: string
  let zst: string
  beforeAll(async () => {
    out = await bake('img', ['IM-01', 'IM-02'], ['--image', gpt.path, '--partition', 'label=rootfs', '--bmap'])
    zst = await bake('img-zst', ['IZ-01', 'IZ-02'], ['--image', gpt.path, '--partition', 'name=boot', '--compress', 'zst'])
  })

  it('fresh bakes pass: uncompressed ext4, and FAT compressed with zstd (decompressed into a secret folder removed after)', async () => {
    await expectPass(out, 2)
    expect(existsSync(path.join(zst, 'images', 'IZ-01.img.zst'))).toBe(true)
    const temp = path.join(work, 'runner-temp')
    mkdirSync(temp)
    const result = await runCliAsync(['verify', '--manifest', path.join(zst, 'credbake-manifest.json'), '--fleet-ca-cert', fleet.certPath], { env: { RUNNER_TEMP: temp } })
    expect(result.stdout).toBe('verified 2 devices: 2 passed, 0 failed\n')
    expect(result.status).toBe(0)
    expect(readdirSync(temp)).toEqual([])
  })

  it("without the partition in the device entries, the offset comes from the image's partition table", async () => {
    const copy = copyOf(out, 'img-no-partition')
    const doc = manifestOf(copy)
    for (const device of doc.devices) delete device.output.partition
    writeFileSync(path.join(copy, 'credbake-manifest.json'), JSON.stringify(doc, null, 2))
    await expectPass(copy, 2)
  })

  it('a truncated image fails that device', async () => {
    const copy = copyOf(out, 'img-truncated')
    const image = path.join(copy, 'images', 'IM-02.img')
    truncateSync(image, Math.floor(statSync(image).size / 2))
    const failed = await expectFailed(copy, 2, ['IM-02'])
    expect(failed.get('IM-02')).toMatch(/^IM-02: output images\/IM-02.img is truncated: \d+ bytes, the manifest records \d+$/)
  })

  it('a changed or missing bmap fails that device', async () => {
    const copy = copyOf(out, 'img-bmap')
    const bmap = path.join(copy, 'images', 'IM-01.img.bmap')
    writeFileSync(bmap, readFileSync(bmap, 'utf8').replace('<BlockSize>', '<BlockSize> '))
    rmSync(path.join(copy, 'images', 'IM-02.img.bmap'))
    const failed = await expectFailed(copy, 2, ['IM-01', 'IM-02'])
    expect(failed.get('IM-01')).toMatch(/^IM-01: bmap images\/IM-01.img.bmap has SHA-256 [0-9a-f]{64}, the manifest records [0-9a-f]{64}$/)
    expect(failed.get('IM-02')).toBe('IM-02: bmap images/IM-02.img.bmap is missing')
  })

  it('a truncated compressed image fails that device', async () => {
    const copy = copyOf(zst, 'zst-truncated')
    const image = path.join(copy, 'images', 'IZ-01.img.zst')
    truncateSync(image, Math.floor(statSync(image).size / 2))
    const failed = await expectFailed(copy, 2, ['IZ-01'])
    expect(failed.get('IZ-01')).toMatch(/^IZ-01: output images\/IZ-01.img.zst is truncated/)
  })
})

describe('partition outputs', () => {
  let ext: string
  let fat: string
  beforeAll(async () => {
    ext = await bake('part-ext', ['PE-01', 'PE-02'], ['--image', gpt.path, '--partition', 'label=rootfs', '--format', 'partition'])
    fat = await bake('part-fat', ['PF-01', 'PF-02'], ['--image', gpt.path, '--partition', 'name=boot', '--format', 'partition'])
  })

  it('fresh bakes pass', async () => {
    await expectPass(ext, 2)
    await expectPass(fat, 2)
  })

  it('a fresh bake compressed with gzip, with bmaps, passes', async () => {
    const gz = await bake('part-gz', ['PG-01', 'PG-02'], ['--image', gpt.path, '--partition', 'label=rootfs', '--format', 'partition', '--compress', 'gz', '--bmap'])
    expect(existsSync(path.join(gz, 'partitions', 'PG-01.img.gz'))).toBe(true)
    expect(existsSync(path.join(gz, 'partitions', 'PG-01.img.bmap'))).toBe(true)
    await expectPass(gz, 2)
  })

  it('a file changed inside an ext4 partition (debugfs -w) fails that device', async () => {
    const copy = copyOf(ext, 'part-ext-changed')
    const image = path.join(copy, 'partitions', 'PE-01.img')
    const host = path.join(work, 'other-root.crt')
    writeFileSync(host, otherCa.certPem)
    const script = path.join(work, 'change.debugfs')
    writeFileSync(script, `rm ${CRED}/root.crt\nwrite ${host} ${CRED}/root.crt\nsif ${CRED}/root.crt mode 0100644\n`)
    run('debugfs', ['-w', '-f', script, image])
    const failed = await expectFailed(copy, 2, ['PE-01'])
    expect(failed.get('PE-01')).toMatch(/root\.crt (is \d+ bytes|has SHA-256)/)
    expect(failed.get('PE-01')).toContain('output partitions/PE-01.img has SHA-256')
  })

  it('a key mode and owner changed inside an ext4 partition (debugfs sif) fail that device', async () => {
    const copy = copyOf(ext, 'part-ext-mode')
    const image = path.join(copy, 'partitions', 'PE-02.img')
    const script = path.join(work, 'mode.debugfs')
    writeFileSync(script, `sif ${CRED}/pkey.pem mode 0100644\nsif ${CRED}/pkey.pem uid 1000\n`)
    run('debugfs', ['-w', '-f', script, image])
    const failed = await expectFailed(copy, 2, ['PE-02'])
    expect(failed.get('PE-02')).toContain('pkey.pem has mode 0644, the manifest records 0600')
    expect(failed.get('PE-02')).toContain('pkey.pem is owned by 1000:0, the manifest records 0:0')
    expect(failed.get('PE-02')).not.toContain('pkey.pem does not match')
  })

  it('a file changed inside a FAT partition (mcopy -o) fails that device', async () => {
    const copy = copyOf(fat, 'part-fat-changed')
    const image = path.join(copy, 'partitions', 'PF-02.img')
    const host = path.join(work, 'gateway.url')
    writeFileSync(host, 'https://evil.example.com:8443')
    run('mcopy', ['-o', '-i', image, host, `::${CRED}/gateway.url`], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } })
    const failed = await expectFailed(copy, 2, ['PF-02'])
    expect(failed.get('PF-02')).toMatch(/gateway\.url (is \d+ bytes|has SHA-256)/)
  })
})

describe('the manifest itself', () => {
  let out: string
  beforeAll(async () => {
    out = await bake('manifest', ['MF-01'], ['--format', 'tar'])
  })

  function refused(result: ChildResult): void {
    expect(result.status).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).not.toMatch(/\n\s+at /)
  }

  it('one whose header fails its schema is refused naming the path and why, before any device is read', async () => {
    const copy = copyOf(out, 'manifest-schema')
    const doc = manifestOf(copy)
    delete doc.layout
    doc.fleetCa.sha256 = 'nope'
    writeFileSync(path.join(copy, 'credbake-manifest.json'), JSON.stringify(doc))
    const result = await verify(copy)
    refused(result)
    expect(result.stderr).toContain('does not match schema/manifest.schema.json')
    expect(result.stderr).toContain('lacks the required property "layout"')
    expect(result.stderr).toContain('/fleetCa/sha256 "nope" does not match ^[0-9a-f]{64}$')
  })

  it('one whose device entry fails its schema is refused naming the entry, the path and why', async () => {
    const copy = copyOf(out, 'manifest-entry-schema')
    const doc = manifestOf(copy)
    doc.devices[0].output.sha256 = 'not-a-digest'
    writeFileSync(path.join(copy, 'credbake-manifest.json'), JSON.stringify(doc))
    const result = await verify(copy)
    refused(result)
    expect(result.stderr).toContain(
      'device entry 0 (serial MF-01) does not match schema/manifest.schema.json: /devices/0/output/sha256 "not-a-digest" does not match ^[0-9a-f]{64}$'
    )
  })

  it('one that is not JSON is refused', async () => {
    const copy = copyOf(out, 'manifest-garbage')
    writeFileSync(path.join(copy, 'credbake-manifest.json'), '{"schemaVersion": 1,')
    const result = await verify(copy)
    refused(result)
    expect(result.stderr).toContain('is not JSON')
  })

  it('a missing one is refused', async () => {
    const result = await verify(path.join(work, 'no-such-folder'))
    refused(result)
    expect(result.stderr).toContain('credbake-manifest.json cannot be read: it does not exist')
  })

  it('an unreadable fleet-ca-cert is refused', async () => {
    const result = await runCliAsync(['verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', path.join(work, 'nope.pem')])
    refused(result)
    expect(result.stderr).toContain('fleet-ca-cert')
  })
})

describe('on worker threads', () => {
  it('a bake of 240 overlays passes, and two edited entries fail exactly those two, in manifest order', async () => {
    const serials = Array.from({ length: 240 }, (_, i) => `WK-${String(i).padStart(3, '0')}`)
    const out = await bake('workers', serials, ['--format', 'tar'])
    // 240 entries: enough for worker threads by default.
    await expectPass(out, 240)
    const copy = copyOf(out, 'workers-edited')
    const doc = manifestOf(copy)
    doc.devices[37].deviceId = 'WK-999'
    doc.devices[201].output.path = 'overlays/WK-000.tar.gz'
    writeFileSync(path.join(copy, 'credbake-manifest.json'), JSON.stringify(doc, null, 2))
    const failed = await expectFailed(copy, 240, ['WK-037', 'WK-201'])
    expect(failed.get('WK-037')).toContain('deviceId "WK-999" is not the certificate\'s CN "WK-037"')
    expect(failed.get('WK-201')).toContain('output path "overlays/WK-000.tar.gz" is not the one credbake gives serial WK-201 (overlays/WK-201.tar.gz)')
    const json = await verify(copy, ['--json'])
    const report = JSON.parse(json.stdout)
    expect(report.devices.map((d: any) => d.serial)).toEqual(serials)
    expect(report.devices.filter((d: any) => !d.ok).map((d: any) => d.serial)).toEqual(['WK-037', 'WK-201'])
    // The same on this thread alone.
    const single = await verify(copy, ['--concurrency', '1', '--json'])
    expect(JSON.parse(single.stdout)).toEqual(report)
  })
})
