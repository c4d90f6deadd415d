// `credbake demo --dir TMP` through the bundled CLI: a throwaway CA, a sample manifest, a sample
// image, and per-device images whose rootfs holds the credentials, read back with debugfs.
import { spawnSync } from 'node:child_process'
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allocatedBytes, cleanupScratch, debugfsCat, debugfsStat, readBytes, run, runStatus, scratchDir, sfdiskJson } from '../helpers/images.js'
import { readValidManifest } from '../helpers/manifest-schema.js'
import { splitPems } from '../helpers/outputs.js'
import { opensslVerify } from '../helpers/pki.js'
import { runCli, type CliRun } from '../helpers/run.js'

let work: string
let dir: string
let result: CliRun

beforeAll(async () => {
  work = await scratchDir('credbake-e2e-demo-')
  dir = path.join(work, 'demo')
  result = runCli(['demo', '--dir', dir, '--devices', '3'], { cwd: work })
})
afterAll(cleanupScratch)

function sha256sum(file: string): string {
  return run('sha256sum', [file]).split(' ')[0]!
}

describe('credbake demo --dir DIR', () => {
  it('exits 0, says it is not for production, and writes the CA, manifest, sample image and outputs', () => {
    expect(result.status, result.stdout + result.stderr).toBe(0)
    expect(result.stderr).toMatch(/NOT FOR PRODUCTION/)
    expect(result.stdout).toMatch(/Demo done/)
    for (const name of ['fleet-ca.pem', 'fleet-ca.key', 'devices.csv', 'sample.img', 'out/credbake-manifest.json', 'out/certificates.pem']) {
      expect(existsSync(path.join(dir, name)), name).toBe(true)
    }
    expect(readFileSync(path.join(dir, 'devices.csv'), 'utf8').trim().split('\n')).toHaveLength(4)
  })

  it("bakes one image per device whose rootfs holds that device's credentials (debugfs cat)", () => {
    const doc = readValidManifest(path.join(dir, 'out/credbake-manifest.json'))
    expect(doc.devices).toHaveLength(3)
    expect(doc.output.format).toBe('image')
    expect(readdirSync(path.join(dir, 'out/images')).sort()).toEqual(doc.devices.map((d: any) => path.basename(d.output.path)).sort())
    const base = path.join(dir, 'sample.img')
    expect(doc.output.image.sha256).toBe(sha256sum(base))
    const rootfs = sfdiskJson(base).partitions.find((p) => p.name === 'rootfs')!
    const offset = rootfs.start * 512
    const ca = readFileSync(path.join(dir, 'fleet-ca.pem'), 'utf8')
    for (const device of doc.devices) {
      const image = path.join(dir, 'out', device.output.path)
      expect(sha256sum(image)).toBe(device.output.sha256)
      expect(device.output.partition).toMatchObject({ offset, fileSystem: 'ext4', label: 'rootfs' })
      expect(allocatedBytes(image)).toBeLessThan(device.output.size / 4)
      // The table is the base's.
      expect(readBytes(image, 0, offset).equals(readBytes(base, 0, offset))).toBe(true)
      const fsck = runStatus('e2fsck', ['-fn', `${image}?offset=${offset}`])
      expect(fsck.status, fsck.stdout).toBe(0)
      const client = debugfsCat(image, offset, '/var/sota/import/client.pem').toString('utf8')
      const cert = new X509Certificate(splitPems(client)[0]!)
      expect(cert.fingerprint256.replace(/:/g, '').toLowerCase()).toBe(device.certificate.sha256)
      expect(cert.subject).toContain(`CN=${device.deviceId}`)
      expect(opensslVerify([cert.toString()], { trustedPem: ca }).ok).toBe(true)
      const key = debugfsCat(image, offset, '/var/sota/import/pkey.pem').toString('utf8')
      const spki = createPublicKey(createPrivateKey(key)).export({ type: 'spki', format: 'der' })
      expect(spki.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true)
      expect(debugfsStat(image, offset, '/var/sota/import/pkey.pem')).toMatchObject({ mode: '0600', uid: 0, gid: 0 })
      expect(debugfsStat(image, offset, '/var/sota/import/client.pem')).toMatchObject({ mode: '0644', uid: 0, gid: 0 })
      for (const file of device.files.filter((f: any) => !f.privateKey)) {
        expect(run('sha256sum', ['-'], { input: debugfsCat(image, offset, file.path) }).split(' ')[0], file.path).toBe(file.sha256)
      }
    }
  })

  it('prints the bake it ran as a command line that runs as printed, and next steps that run too', () => {
    const lines = result.stdout.split('\n')
    const bakeLine = lines[lines.findIndex((line) => line.startsWith('Demo done. The bake it ran')) + 1]?.trim() ?? ''
    expect(bakeLine).toMatch(
      / bake --manifest demo\/devices\.csv --fleet-ca-cert demo\/fleet-ca\.pem --fleet-ca-key demo\/fleet-ca\.key .*--subject 'CN=\{device-id\},OU=\{region\},O=credbake demo' .*--output-dir demo\/out$/
    )
    const shell = (command: string) => spawnSync('sh', ['-c', command], { cwd: work, encoding: 'utf8' })
    // Run again as printed: a resume that keeps every device.
    const again = shell(bakeLine)
    expect(again.status, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/^devices: +3 in the review manifest: 0 baked now, 3 kept from an earlier run$/m)
    const verifyLine = lines.find((line) => / verify --manifest /.test(line))?.trim() ?? ''
    expect(verifyLine).toMatch(/ verify --manifest demo\/out\/credbake-manifest\.json --fleet-ca-cert demo\/fleet-ca\.pem$/)
    const verified = shell(verifyLine)
    expect(verified.status, verified.stdout + verified.stderr).toBe(0)
    expect(verified.stdout).toBe('verified 3 devices: 3 passed, 0 failed\n')
    const inspectLine = lines.find((line) => / inspect --files /.test(line))?.trim() ?? ''
    expect(inspectLine).toMatch(/ inspect --files --partition label=rootfs demo\/out\/images\/DEMO-0001\.img$/)
    const inspected = shell(inspectLine)
    expect(inspected.status, inspected.stderr).toBe(0)
    expect(inspected.stdout).toMatch(/^ {2}-rw------- {2}0:0 +\d+ {2}pkey\.pem$/m)
    expect(result.stdout).toMatch(/Read the review manifest, what a reviewer signs off: demo\/out\/credbake-manifest\.json/)
  })

  it('a second demo into the same folder starts afresh and exits 0 (partition format too)', () => {
    const again = runCli(['demo', '--dir', dir, '--devices', '2', '--format', 'partition'], { cwd: work })
    expect(again.status, again.stdout + again.stderr).toBe(0)
    const doc = readValidManifest(path.join(dir, 'out/credbake-manifest.json'))
    expect(doc.devices.map((d: any) => d.output.path)).toEqual(['partitions/DEMO-0001.img', 'partitions/DEMO-0002.img'])
    expect(existsSync(path.join(dir, 'out/images'))).toBe(false)
    for (const device of doc.devices) {
      const part = path.join(dir, 'out', device.output.path)
      expect(runStatus('e2fsck', ['-fn', part]).status).toBe(0)
      const client = debugfsCat(part, 0, '/var/sota/import/client.pem').toString('utf8')
      expect(new X509Certificate(splitPems(client)[0]!).fingerprint256.replace(/:/g, '').toLowerCase()).toBe(device.certificate.sha256)
    }
  })

  it('never deletes files it did not make: a --dir holding other files is refused or left alone', () => {
    // `credbake demo --dir .` in a checkout must not wipe the checkout.
    const mine = path.join(work, 'mine')
    mkdirSync(path.join(mine, 'src'), { recursive: true })
    writeFileSync(path.join(mine, 'src', 'thesis.txt'), 'five years of work\n')
    const run = runCli(['demo', '--dir', mine, '--devices', '1'], { cwd: work })
    expect(existsSync(path.join(mine, 'src', 'thesis.txt')), `demo exited ${run.status} and removed a file it did not make`).toBe(true)
    if (run.status !== 0) expect(run.stderr).toMatch(/--dir|not empty|exists/i)
  })

  it('rejects a bad --devices with exit 2', () => {
    const bad = runCli(['demo', '--dir', path.join(work, 'bad'), '--devices', 'zero'], { cwd: work })
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/--devices/)
    expect(existsSync(path.join(work, 'bad'))).toBe(false)
  })
})
