// Hand-made journals (written with the journal's own encodeRecord) covering every kind of
// superseded certificate, resumes, an overwrite run, dir/image outputs, format-1 lines and odd
// serials. The golden files in test/review/golden/ are what the review code of commit d0c6928 (two
// passes over records from readJournal, the superseded list kept in memory) made of them; the
// review and resume-state tests check that every later implementation makes exactly the same.
import { createHash } from 'node:crypto'
import { encodeRecord } from '../../src/journal/journal.js'
import type { IssuedRecord, JournalFile, JournalOutput, JournalRecord, ReplaceReason, RunBasis, RunIdentity } from '../../src/journal/records.js'
import type { ManifestHeader } from '../../src/shapes/review.js'

const hex = (text: string): string => createHash('sha256').update(text).digest('hex')

/** A PEM-shaped text (the review copies certificates; it does not parse them). */
export function fakePem(seed: string): string {
  const body = createHash('sha512').update(seed).digest('base64') + createHash('sha512').update(`${seed}+`).digest('base64')
  const lines = body.match(/.{1,64}/g) ?? []
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`
}

const basis: RunBasis = {
  keyType: 'ec-p256',
  lifetime: '365 days',
  profileSha256: hex('profile'),
  layout: 'aktualizr',
  credentialsDir: '/var/sota/import',
  serverCaSha256: null,
  gatewayUrl: null
}

function identity(format: string): RunIdentity {
  return {
    fleetCaSha256: hex('ca'),
    format,
    compress: 'none',
    imageSha256: format === 'image' ? hex('base image') : null,
    partition: format === 'image' ? 'label=rootfs' : null,
    shard: '1/1'
  }
}

export function header(format: string): ManifestHeader {
  return {
    schemaVersion: 1,
    tool: { name: 'credbake', version: '0.1.0' },
    createdAt: '2026-11-30T10:00:00.000Z',
    fleetCa: {
      subject: 'CN=test fleet root',
      sha256: hex('ca'),
      notBefore: '2026-01-01T00:00:00.000Z',
      notAfter: '2036-01-01T00:00:00.000Z',
      keyType: 'EC P-256',
      signatureAlgorithm: 'ecdsa-with-SHA256',
      intermediate: false
    },
    profile: { keyType: 'ec-p256', subject: 'CN={serial}', lifetime: { kind: 'days', days: 365 } } as unknown as ManifestHeader['profile'],
    layout: { name: 'aktualizr', credentialsDir: '/var/sota/import' },
    output: { format, compress: 'none', ...(format === 'image' ? { image: { path: 'base.img', sha256: hex('base image'), partition: 'label=rootfs' } } : {}) },
    shard: { index: 1, count: 1 },
    source: { manifest: { path: 'devices.csv', sha256: hex('devices.csv') } }
  }
}

class JournalBuilder {
  readonly records: JournalRecord[] = []
  private clock = Date.parse('2026-11-30T09:00:00.000Z')
  private run = ''
  private certs = 0

  constructor(private readonly format: string) {}

  private at(): string {
    this.clock += 1234
    return new Date(this.clock).toISOString()
  }

  startRun(overwrite = false): void {
    const at = this.at()
    this.run = `${at}-4242`
    this.records.push({ type: 'run', run: this.run, at, version: '0.1.0', format: 2, identity: identity(this.format), basis, overwrite })
  }

  issue(serial: string, replaces?: { certificateSha256: string; reason: ReplaceReason; changed?: string[] }): IssuedRecord {
    const n = ++this.certs
    const pem = fakePem(`${serial}#${n}`)
    const record: IssuedRecord = {
      type: 'issued',
      run: this.run,
      at: this.at(),
      serial,
      basis: { deviceId: `id-${serial}`, subject: `CN=${serial}`, sanSha256: n % 3 === 0 ? hex(`san ${serial}`) : null, csrSha256: null },
      certificate: {
        serialNumber: createHash('md5').update(pem).digest('hex'),
        sha256: hex(pem),
        subject: `CN=${serial}`,
        publicKeySha256: hex(`key ${serial} ${n}`),
        notBefore: '2026-11-30T08:59:00.000Z',
        notAfter: '2027-11-30T09:00:00.000Z',
        keySource: n % 5 === 0 ? 'csr' : 'generated',
        pem
      },
      ...(replaces ? { replaces } : {})
    }
    this.records.push(record)
    return record
  }

  write(issued: IssuedRecord): void {
    const { serial } = issued
    const files: JournalFile[] = [
      { path: '/var/sota/import/client.pem', mode: '0644', owner: '0:0', sha256: hex(`client ${issued.certificate.sha256}`), size: 623, secret: false },
      { path: '/var/sota/import/pkey.pem', mode: '0600', owner: '0:0', sha256: null, size: 241, secret: true },
      { path: '/var/sota/import/root.crt', mode: '0644', owner: null, sha256: hex('root'), size: 619, secret: false }
    ]
    const output: JournalOutput =
      this.format === 'image'
        ? {
            path: `images/${serial}.img`,
            size: 268435456,
            sha256: hex(`image ${issued.certificate.sha256}`),
            partition: { number: 2, offset: 34603008, size: 233815552, fileSystem: 'ext4', label: 'rootfs' },
            bmap: { path: `images/${serial}.img.bmap`, sha256: hex(`bmap ${serial}`) }
          }
        : this.format === 'dir'
          ? { path: `devices/${serial}`, size: 1483, sha256: hex(`dir ${issued.certificate.sha256}`) }
          : { path: `overlays/${serial}.tar`, size: 10240, sha256: hex(`tar ${issued.certificate.sha256}`) }
    this.records.push({ type: 'written', run: this.run, at: this.at(), serial, certificateSha256: issued.certificate.sha256, output, files })
  }

  retire(issued: IssuedRecord): void {
    this.records.push({ type: 'retired', run: this.run, at: this.at(), serial: issued.serial, certificateSha256: issued.certificate.sha256, path: `overlays/${issued.serial}.tar` })
  }

  complete(devices: number): void {
    this.records.push({ type: 'complete', run: this.run, at: this.at(), devices })
  }

  text(): string {
    return this.records.map(encodeRecord).join('')
  }
}

export interface ReviewScenario {
  name: string
  format: string
  /** The journal file's bytes. */
  journal: string
  inScope: string[]
}

/** An odd serial: a quote, a backslash, a tab, non-ASCII (JSON escapes and multi-byte UTF-8). */
export const ODD_SERIAL = 'Q"\\\t-é✓-𝄞'

function resumeScenario(): ReviewScenario {
  const j = new JournalBuilder('tar')
  j.startRun()
  const s1 = j.issue('S1')
  const s2 = j.issue('S2')
  const s3 = j.issue('S3')
  j.write(s1)
  j.write(s2)
  j.write(s3)
  const s4 = j.issue('S4')
  j.issue('S5') // never written
  const s6 = j.issue('S6')
  const s8 = j.issue('S8')
  const odd = j.issue(ODD_SERIAL)
  j.write(s4)
  j.write(s6)
  j.write(s8)
  j.write(odd)
  j.write(s1) // a duplicate 'written' for a certificate already handled
  // Resumed run: S4 left the manifest (retired); S8 left it too but was not retired; S2's output
  // was missing; S3's subject changed; S5 is issued again; S7 is new; S9 is never written.
  j.startRun()
  j.retire(s4)
  const s2b = j.issue('S2', { certificateSha256: s2.certificate.sha256, reason: 'output-redone' })
  const s3b = j.issue('S3', { certificateSha256: s3.certificate.sha256, reason: 'reissued-changed', changed: ['subject', 'lifetime'] })
  const s5b = j.issue('S5')
  const s7 = j.issue('S7')
  j.issue('S9')
  j.write(s2b)
  j.write(s3b)
  j.write(s5b)
  j.write(s7)
  j.complete(8)
  // A torn last append (no newline): never acknowledged, not read.
  return { name: 'resume', format: 'tar', journal: `${j.text()}{"type":"issued","run":"x","at`, inScope: ['S1', 'S2', 'S3', 'S5', 'S6', 'S7', 'S9', ODD_SERIAL] }
}

function overwriteScenario(): ReviewScenario {
  const j = new JournalBuilder('dir')
  j.startRun()
  const a = j.issue('A')
  const b = j.issue('B')
  const c = j.issue('C')
  j.write(a)
  j.write(b)
  j.write(c)
  j.complete(3)
  j.startRun(true)
  const a2 = j.issue('A')
  j.issue('B') // never written: B's first certificate stays the active one
  const d = j.issue('D')
  j.write(a2)
  j.write(d)
  j.startRun()
  const e = j.issue('E')
  j.write(e)
  j.complete(5)
  return { name: 'overwrite', format: 'dir', journal: j.text(), inScope: ['A', 'B', 'C', 'D', 'E'] }
}

function imageScenario(): ReviewScenario {
  const j = new JournalBuilder('image')
  j.startRun()
  const x = j.issue('IMG-1')
  const y = j.issue('IMG-2')
  j.write(x)
  j.write(y)
  j.complete(2)
  return { name: 'image', format: 'image', journal: j.text(), inScope: ['IMG-1', 'IMG-2'] }
}

/** credbake 0.1's format 1 (no checksums), a torn line and a lone newline, then format 2. */
function legacyScenario(): ReviewScenario {
  const pem = fakePem('L1')
  const old = [
    {
      type: 'run',
      run: 'r0',
      at: '2025-01-01T00:00:00.000Z',
      version: '0.1.0',
      identity: { fleetCaSha256: hex('ca'), format: 'tar', compress: 'none', imageSha256: null, partition: null },
      overwrite: false
    },
    {
      type: 'issued',
      run: 'r0',
      at: '2025-01-01T00:00:01.000Z',
      serial: 'L1',
      deviceId: 'L1',
      certificate: { serialNumber: 'aa11', sha256: hex(pem), notAfter: '2026-01-01T00:00:00.000Z', pem }
    },
    {
      type: 'written',
      run: 'r0',
      at: '2025-01-01T00:00:02.000Z',
      serial: 'L1',
      certificateSha256: hex(pem),
      entry: {
        output: { path: 'overlays/L1.tar', size: 10240, sha256: hex('L1 tar') },
        files: [
          { path: '/var/sota/import/client.pem', mode: '0644', owner: '0:0', sha256: hex('L1 client'), size: 600 },
          { path: '/var/sota/import/pkey.pem', mode: '0600', owner: '0:0', privateKey: true }
        ]
      }
    },
    {
      type: 'issued',
      run: 'r0',
      at: '2025-01-01T00:00:03.000Z',
      serial: 'L2',
      deviceId: 'L2',
      certificate: { serialNumber: 'aa12', sha256: hex('L2'), notAfter: '2026-01-01T00:00:00.000Z', pem: fakePem('L2') }
    }
  ]
  const j = new JournalBuilder('tar')
  j.startRun()
  const l1 = j.issue('L1', { certificateSha256: hex(pem), reason: 'reissued-changed', changed: ['unrecorded (journal format 1)'] })
  const l2 = j.issue('L2')
  j.write(l1)
  j.write(l2)
  j.complete(2)
  const legacy = `${old.map((record) => JSON.stringify(record)).join('\n')}\n{"type":"written","run":"r0","at":"2025-01\n\n`
  return { name: 'legacy', format: 'tar', journal: legacy + j.text(), inScope: ['L1', 'L2'] }
}

export function reviewScenarios(): ReviewScenario[] {
  return [resumeScenario(), overwriteScenario(), imageScenario(), legacyScenario()]
}
