// Files stored elsewhere than their device path (OSTree sysroot paths): the review carries
// `partitionPath` right after `path` whichever way the entry is made (from the journal line's text,
// or from the parsed records when the line is laid out otherwise), SHA256SUMS names the files of a
// dir output where they are in the tree, and entries without it stay as they were.
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeRecord, JOURNAL_FILE } from '../../src/journal/journal.js'
import type { JournalFile, JournalRecord } from '../../src/journal/records.js'
import { writeReviewFromJournal } from '../../src/review/from-journal.js'
import { cleanupScratch, scratchDir } from '../helpers/images.js'
import { fakePem, header } from './journal-fixture.js'

const hex = (text: string): string => createHash('sha256').update(text).digest('hex')
const SYSROOT = '/ostree/deploy/poky/var/sota/import'

let work: string
beforeAll(async () => {
  work = await scratchDir('credbake-partition-path-')
})
afterAll(cleanupScratch)

function journal(format: string, serials: string[], placed: boolean, reorder = false): string {
  const run = '2026-11-30T09:00:00.000Z-1'
  const records: JournalRecord[] = [
    {
      type: 'run',
      run,
      at: '2026-11-30T09:00:00.000Z',
      version: '0.1.0',
      format: 2,
      identity: { fleetCaSha256: hex('ca'), format, compress: 'none', imageSha256: null, partition: null, shard: '1/1' },
      basis: {
        keyType: 'ec-p256',
        lifetime: '365 days',
        profileSha256: hex('p'),
        layout: 'aktualizr',
        credentialsDir: '/var/sota/import',
        serverCaSha256: null,
        gatewayUrl: null,
        ...(placed ? { ostreeOs: 'poky' } : {})
      },
      overwrite: false
    }
  ]
  for (const serial of serials) {
    const pem = fakePem(serial)
    const sha256 = hex(pem)
    records.push({
      type: 'issued',
      run,
      at: '2026-11-30T09:00:01.000Z',
      serial,
      basis: { deviceId: serial, subject: `CN=${serial}`, sanSha256: null, csrSha256: null },
      certificate: {
        serialNumber: createHash('md5').update(pem).digest('hex'),
        sha256,
        subject: `CN=${serial}`,
        publicKeySha256: hex(`k${serial}`),
        notBefore: '2026-11-30T08:59:00.000Z',
        notAfter: '2027-11-30T09:00:00.000Z',
        keySource: 'generated',
        pem
      }
    })
    const at = (name: string): Partial<JournalFile> => (placed ? { partitionPath: `${SYSROOT}/${name}` } : {})
    const files: JournalFile[] = [
      { path: '/var/sota/import/client.pem', mode: '0644', owner: '0:0', sha256: hex(`client ${serial}`), size: 600, secret: false, ...at('client.pem') },
      { path: '/var/sota/import/pkey.pem', mode: '0600', owner: '0:0', sha256: null, size: 241, secret: true, ...at('pkey.pem') }
    ]
    // A line laid out otherwise than the bake writes it (keys in another order) takes the parsed path.
    const written = reorder
      ? ({
          files,
          type: 'written',
          run,
          at: '2026-11-30T09:00:02.000Z',
          serial,
          certificateSha256: sha256,
          output: { path: `devices/${serial}`, size: 841, sha256: hex(`out ${serial}`) }
        } as JournalRecord)
      : ({
          type: 'written',
          run,
          at: '2026-11-30T09:00:02.000Z',
          serial,
          certificateSha256: sha256,
          output: { path: `devices/${serial}`, size: 841, sha256: hex(`out ${serial}`) },
          files
        } as JournalRecord)
    records.push(written)
  }
  records.push({ type: 'complete', run, at: '2026-11-30T09:00:03.000Z', devices: serials.length })
  return records.map(encodeRecord).join('')
}

async function review(name: string, text: string, format = 'dir'): Promise<{ manifest: any; raw: string; sums: string }> {
  const out = path.join(work, name)
  mkdirSync(out)
  writeFileSync(path.join(out, JOURNAL_FILE), text)
  const serials = [...text.matchAll(/"type":"issued".*?"serial":"([^"]+)"/g)].map((m) => m[1]!)
  const result = await writeReviewFromJournal(out, header(format), new Set(serials))
  const raw = readFileSync(result.manifest, 'utf8')
  return { manifest: JSON.parse(raw), raw, sums: readFileSync(result.checksums, 'utf8') }
}

describe('partitionPath in the review', () => {
  it('follows path in every entry, the same from the line text and from parsed records', async () => {
    const fast = await review('fast', journal('dir', ['SN-1', 'SN-2'], true))
    const parsed = await review('parsed', journal('dir', ['SN-1', 'SN-2'], true, true))
    for (const { manifest, raw } of [fast, parsed]) {
      // The streamed text is what JSON.stringify would write: same keys, same order, same indent.
      expect(raw).toBe(`${JSON.stringify(manifest, null, 2)}\n`)
      expect(manifest.devices[0].files).toEqual([
        { path: '/var/sota/import/client.pem', partitionPath: `${SYSROOT}/client.pem`, mode: '0644', owner: '0:0', sha256: hex('client SN-1'), size: 600, privateKey: false },
        { path: '/var/sota/import/pkey.pem', partitionPath: `${SYSROOT}/pkey.pem`, mode: '0600', owner: '0:0', privateKey: true }
      ])
      expect(Object.keys(manifest.devices[0].files[0])).toEqual(['path', 'partitionPath', 'mode', 'owner', 'sha256', 'size', 'privateKey'])
    }
    expect(fast.manifest.devices).toEqual(parsed.manifest.devices)
  })

  it('SHA256SUMS names the files of a dir output where the tree holds them', async () => {
    const { sums } = await review('sums', journal('dir', ['SN-1'], true))
    expect(sums).toBe(`${hex('client SN-1')}  devices/SN-1${SYSROOT}/client.pem\n`)
  })

  it('is absent where the file is at its device path', async () => {
    const { manifest, sums } = await review('plain', journal('dir', ['SN-1'], false))
    for (const file of manifest.devices[0].files) expect(file).not.toHaveProperty('partitionPath')
    expect(sums).toBe(`${hex('client SN-1')}  devices/SN-1/var/sota/import/client.pem\n`)
  })
})
