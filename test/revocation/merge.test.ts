// Merge carries revocations and leads to one CRL for the merged set: shards baked with crl: true,
// a device revoked in one shard, the shards merged (the merged manifest lists the revocation and
// each shard's CRL number), then `credbake crl` on the merged output-dir signs a CRL whose number
// is above every shard's, listing the merged superseded and revoked certificates; verify agrees,
// and a merge again followed by crl never goes back in number.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mergeShards } from '../../src/merge/merge.js'
import { bake } from '../../src/pipeline/bake.js'
import type { Reporter } from '../../src/pipeline/reporter.js'
import { refreshCrl } from '../../src/revocation/refresh.js'
import { revokeDevice } from '../../src/revocation/revoke.js'
import { parseSettings, readKeyReference, readPem } from '../../src/settings/parse.js'
import type { ReviewManifest } from '../../src/shapes/review.js'
import { verifyOutputs } from '../../src/verify/verify.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { certtoolCrlInfo, opensslCrlText, opensslCrlVerify, opensslReasons } from '../x509/support.js'

let ca: CaFixture
let work: string
const reporter: Reporter = { info: () => {}, warning: () => {}, progress: () => {} }

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Merge CRL fleet' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-crl-merge-'))
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

const SERIALS = ['M-1', 'M-2', 'M-3', 'M-4', 'M-5', 'M-6']

async function bakeShard(index: number, ids: Record<string, string> = {}): Promise<void> {
  const manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, ['serial,device-id', ...SERIALS.map((serial) => `${serial},${ids[serial] ?? serial}`), ''].join('\n'))
  const settings = parseSettings(
    {
      manifest,
      'fleet-ca-cert': ca.certPath,
      'fleet-ca-key': ca.keyPath,
      'output-dir': path.join(work, `shard-${index}`),
      shard: `${index}/2`,
      format: 'tar',
      'validity-days': '10',
      concurrency: '1',
      crl: 'true'
    },
    { baseDir: work, tempRoot: work }
  )
  await bake(settings, reporter)
}

const read = (dir: string): ReviewManifest => JSON.parse(readFileSync(path.join(dir, 'credbake-manifest.json'), 'utf8')) as ReviewManifest

async function crlOf(dir: string) {
  return refreshCrl({ outputDir: dir, fleetCaCert: readPem('fleet-ca-cert', ca.certPath, (p) => p, false), fleetCaKey: readKeyReference(ca.keyPath, (p) => p), days: 7 })
}

describe('merge and the CRL', () => {
  it('carries revocations and each shard CRL number; crl on the merged set numbers above every shard', async () => {
    await bakeShard(1)
    await bakeShard(2)
    const shard1 = read(path.join(work, 'shard-1'))
    const victim = shard1.devices[0]!.serial
    await revokeDevice({ outputDir: path.join(work, 'shard-1'), serial: victim, reason: 'affiliationChanged' })
    expect((await crlOf(path.join(work, 'shard-1'))).record.number).toBe('2')
    // A device of shard 2 reissued: a superseded certificate there.
    const shard2 = read(path.join(work, 'shard-2'))
    const renamed = shard2.devices[0]!.serial
    await bakeShard(2, { [renamed]: `${renamed}-new` })
    expect(read(path.join(work, 'shard-2')).crl?.number).toBe('2')
    // Every shard is baked from the same device manifest: shard 1 again (its revoked device is kept revoked).
    await bakeShard(1, { [renamed]: `${renamed}-new` })
    expect(read(path.join(work, 'shard-1')).crl?.number).toBe('3')

    const merged = path.join(work, 'merged')
    const manifests = [path.join(work, 'shard-1/credbake-manifest.json'), path.join(work, 'shard-2/credbake-manifest.json')]
    await mergeShards({ outputDir: merged, manifests })
    const review = read(merged)
    expect(review.revoked?.map((entry) => [entry.serial, entry.reason])).toEqual([[victim, 'affiliationChanged']])
    expect(review.counts.revoked).toBe(1)
    expect(review.merged?.map((shard) => shard.crlNumber)).toEqual(['3', '2'])
    expect(review.crl).toBeUndefined()

    const written = await crlOf(merged)
    expect(written.merged).toBe(true)
    expect(written.record.number).toBe('4')
    const pem = readFileSync(path.join(merged, 'crl.pem'), 'utf8')
    const check = opensslCrlVerify(ca.certPem, pem)
    expect(check.ok, check.output).toBe(true)
    expect(certtoolCrlInfo(pem).count).toBe(2)
    const reasons = new Map([...opensslReasons(opensslCrlText(pem))].map(([serial, reason]) => [serial.toLowerCase().replace(/^0+/, ''), reason]))
    expect(reasons.get(review.revoked![0]!.serialNumber.replace(/^0+/, ''))).toBe('Affiliation Changed')
    expect(reasons.get(review.superseded[0]!.serialNumber.replace(/^0+/, ''))).toBe('Superseded')
    expect(read(merged).crl).toMatchObject({ number: '4', entries: 2 })
    const summary = await verifyOutputs({ manifest: path.join(merged, 'credbake-manifest.json'), fleetCaCert: ca.certPath, concurrency: 1 })
    expect(summary.problems).toEqual([])
    expect(summary.failed).toBe(0)
    expect(summary.revoked.map((device) => device.serial)).toEqual([victim])

    // Merged again (the manifest forgets its CRL): the next CRL still goes up, from crl.pem's number.
    await mergeShards({ outputDir: merged, manifests })
    expect((await crlOf(merged)).record.number).toBe('5')
    // revoke needs a journal: in a merged folder it says where to revoke.
    await expect(revokeDevice({ outputDir: merged, serial: victim, reason: 'keyCompromise' })).rejects.toThrow(/holds no credbake journal/)
  })
})
