// Issue 17, item 4: a review manifest edited to say something its outputs do not, and review files
// cut, replaced or padded. Each edit is made to a fresh bake's files with plain JSON and file tools,
// then `credbake verify` (node dist/cli.js) must fail with exit 7 and a finding that names the
// device (or the review file) and what differs. The untouched bake passes first, so every failure
// below is the edit's.
import { appendFileSync, cpSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCliAsync, type ChildResult } from '../helpers/faults.js'
import { cleanupScratch, scratchDir } from '../helpers/images.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'

let work: string
let fleet: CaFixture
let baked: string
/** A bake whose first run was overwritten: its manifest lists superseded certificates. */
let overwritten: string

const SERIALS = ['LI-01', 'LI-02', 'LI-03', 'LI-04']

beforeAll(async () => {
  work = await scratchDir('credbake-verify-lies-')
  fleet = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Lies Fleet Root/O=Example' })
  const devices = path.join(work, 'devices.csv')
  writeFileSync(devices, `serial,device-id\n${SERIALS.map((s) => `${s},dev-${s.toLowerCase()}`).join('\n')}\n`)
  const bake = async (out: string, extra: string[] = []): Promise<void> => {
    const result = await runCliAsync([
      'bake',
      '--manifest',
      devices,
      '--fleet-ca-cert',
      fleet.certPath,
      '--fleet-ca-key',
      fleet.keyPath,
      '--format',
      'tar',
      '--subject',
      'CN={device-id},O=Example Fleet',
      '--san',
      'DNS:{serial}.devices.example.com, URI:urn:dev:{device-id}',
      '--gateway-url',
      'https://gw.example.com',
      '--output-dir',
      out,
      ...extra
    ])
    expect(result.status, result.stderr).toBe(0)
  }
  baked = path.join(work, 'baked')
  await bake(baked)
  overwritten = path.join(work, 'overwritten')
  await bake(overwritten)
  await bake(overwritten, ['--no-resume', '--overwrite'])
})

afterAll(async () => {
  cleanupPki()
  await cleanupScratch()
})

let copies = 0
/** A copy of `from` to edit (outputs, manifest and companion files). */
function copyOf(from: string): string {
  const copy = path.join(work, `copy-${copies++}`)
  cpSync(from, copy, { recursive: true })
  return copy
}

const manifestFile = (out: string): string => path.join(out, 'credbake-manifest.json')
const readManifest = (out: string): any => JSON.parse(readFileSync(manifestFile(out), 'utf8'))
const writeManifest = (out: string, doc: unknown): void => writeFileSync(manifestFile(out), JSON.stringify(doc, null, 2))

function edited(from: string, edit: (doc: any) => void): string {
  const copy = copyOf(from)
  const doc = readManifest(copy)
  edit(doc)
  writeManifest(copy, doc)
  return copy
}

function verify(out: string, extra: string[] = []): Promise<ChildResult> {
  return runCliAsync(['verify', '--manifest', manifestFile(out), '--fleet-ca-cert', fleet.certPath, ...extra])
}

interface Report {
  devices: Array<{ serial: string; ok: boolean; problems: string[] }>
  problems: string[]
  passed: number
  failed: number
}

/** Verify with --json; exit 7 expected; the report. */
async function failing(out: string): Promise<Report> {
  const result = await verify(out, ['--json'])
  expect(result.status, result.stdout + result.stderr).toBe(7)
  return JSON.parse(result.stdout) as Report
}

/** The problems of device entry `index`, joined. */
function problemsOf(report: Report, index: number): string {
  return report.devices[index]!.problems.join('\n')
}

function failedSerials(report: Report): string[] {
  return report.devices.filter((d) => !d.ok).map((d) => d.serial)
}

describe('the bake as written', () => {
  it('passes, in text and in JSON, with and without worker threads', async () => {
    for (const out of [baked, overwritten]) {
      for (const concurrency of ['1', '2']) {
        const result = await verify(out, ['--concurrency', concurrency])
        expect(result.stdout).toBe('verified 4 devices: 4 passed, 0 failed\n')
        expect(result.status).toBe(0)
      }
    }
    const json = JSON.parse((await verify(overwritten, ['--json'])).stdout) as Report
    expect(json).toEqual({ devices: SERIALS.map((serial) => ({ serial, ok: true, problems: [] })), problems: [], passed: 4, failed: 0 })
    expect(readManifest(overwritten).superseded).toHaveLength(4)
  })

  it("records each device's subjectAltName as the certificate holds it", () => {
    const doc = readManifest(baked)
    expect(doc.devices.map((d: any) => d.certificate.san)).toEqual(SERIALS.map((s) => `DNS:${s}.devices.example.com, URI:urn:dev:dev-${s.toLowerCase()}`))
  })
})

describe('edits to device entries', () => {
  it("a deviceId that is not the certificate's CN", async () => {
    const report = await failing(edited(baked, (doc) => (doc.devices[1].deviceId = 'dev-someone-else')))
    expect(failedSerials(report)).toEqual(['LI-02'])
    expect(problemsOf(report, 1)).toContain('client.pem: deviceId "dev-someone-else" is not the certificate\'s CN "dev-li-02"')
  })

  it('two serials swapped', async () => {
    const report = await failing(
      edited(baked, (doc) => {
        ;[doc.devices[0].serial, doc.devices[2].serial] = [doc.devices[2].serial, doc.devices[0].serial]
      })
    )
    expect(failedSerials(report)).toEqual(['LI-03', 'LI-01'])
    expect(problemsOf(report, 0)).toContain('output path "overlays/LI-01.tar.gz" is not the one credbake gives serial LI-03 (overlays/LI-03.tar.gz)')
    expect(problemsOf(report, 2)).toContain('output path "overlays/LI-03.tar.gz" is not the one credbake gives serial LI-01 (overlays/LI-01.tar.gz)')
  })

  it('two whole entries swapped (then certificates.pem and SHA256SUMS are out of order)', async () => {
    const report = await failing(
      edited(baked, (doc) => {
        ;[doc.devices[0], doc.devices[1]] = [doc.devices[1], doc.devices[0]]
      })
    )
    expect(failedSerials(report)).toEqual(['LI-02', 'LI-01'])
    expect(problemsOf(report, 0)).toMatch(/certificates\.pem has certificate [0-9a-f]{64} at this device's place \(block 1, line 1\), the manifest records [0-9a-f]{64}/)
    expect(problemsOf(report, 0)).toContain('SHA256SUMS line 1 is ')
  })

  it('a duplicate entry', async () => {
    const report = await failing(
      edited(baked, (doc) => {
        doc.devices.push(structuredClone(doc.devices[1]))
        doc.counts.devices = 5
      })
    )
    expect(report.devices.map((d) => d.ok)).toEqual([true, true, true, true, false])
    expect(problemsOf(report, 4)).toContain('serial LI-02 is listed twice in the manifest (device entries 1 and 4)')
    expect(problemsOf(report, 4)).toContain('is also the certificate of device LI-02 (entry 1): one certificate, two devices')
    expect(problemsOf(report, 4)).toContain("certificates.pem ends before this device's certificate (it holds 4)")
  })

  it('two serials sharing one certificate', async () => {
    const report = await failing(edited(baked, (doc) => (doc.devices[3].certificate = structuredClone(doc.devices[2].certificate))))
    expect(failedSerials(report)).toEqual(['LI-04'])
    const problems = problemsOf(report, 3)
    expect(problems).toMatch(/its certificate [0-9a-f]{64} is also the certificate of device LI-03 \(entry 2\): one certificate, two devices/)
    expect(problems).toMatch(/client\.pem holds certificate [0-9a-f]{64}, the manifest records [0-9a-f]{64}/)
  })

  it("a subject or SAN that is not the certificate's", async () => {
    const report = await failing(
      edited(baked, (doc) => {
        doc.devices[0].certificate.subject = 'CN=dev-li-01,O=Someone Else'
        doc.devices[1].certificate.san = 'DNS:*.devices.example.com'
        delete doc.devices[2].certificate.san
      })
    )
    expect(failedSerials(report)).toEqual(['LI-01', 'LI-02', 'LI-03'])
    expect(problemsOf(report, 0)).toContain('client.pem: subject "CN=dev-li-01,O=Example Fleet", the manifest records "CN=dev-li-01,O=Someone Else"')
    expect(problemsOf(report, 1)).toContain('client.pem: subjectAltName "DNS:LI-02.devices.example.com, URI:urn:dev:dev-li-02", the manifest records "DNS:*.devices.example.com"')
    expect(problemsOf(report, 2)).toContain('client.pem: subjectAltName "DNS:LI-03.devices.example.com, URI:urn:dev:dev-li-03", the manifest records none')
  })

  it('a file recorded elsewhere inside the output than credbake puts it (a decoy to be checked instead)', async () => {
    const report = await failing(edited(baked, (doc) => (doc.devices[2].files[0].partitionPath = '/var/sota/decoy/client.pem')))
    expect(failedSerials(report)).toEqual(['LI-03'])
    expect(problemsOf(report, 2)).toBe(
      '/var/sota/import/client.pem is recorded at "/var/sota/decoy/client.pem" inside the output, but the review names no OSTree sysroot that would put it there'
    )
  })

  it("validity or fingerprints that are not the certificate's", async () => {
    const report = await failing(
      edited(baked, (doc) => {
        doc.devices[0].certificate.notAfter = '2099-01-01T00:00:00.000Z'
        doc.devices[1].certificate.publicKeySha256 = 'a'.repeat(64)
        doc.devices[2].certificate.serialNumber = `7${'0'.repeat(31)}`
      })
    )
    expect(failedSerials(report)).toEqual(['LI-01', 'LI-02', 'LI-03'])
    expect(problemsOf(report, 0)).toMatch(/client\.pem: valid until \S+, the manifest records 2099-01-01T00:00:00.000Z/)
    expect(problemsOf(report, 1)).toMatch(/client\.pem: public key SHA-256 [0-9a-f]{64}, the manifest records a{64}/)
    expect(problemsOf(report, 2)).toMatch(/client\.pem: serial number [0-9a-f]{32}, the manifest records 70{31}/)
  })
})

describe('edits to the header', () => {
  it('a profile whose key type contradicts the certificates', async () => {
    const report = await failing(edited(baked, (doc) => (doc.profile.keyType = 'ec-p384')))
    expect(report.failed).toBe(4)
    for (let i = 0; i < 4; i++) expect(problemsOf(report, i)).toContain("client.pem: the key is EC P-256, the profile's key type is ec-p384 (EC P-384)")
  })

  it('a profile whose lifetime contradicts the certificates', async () => {
    const days = await failing(edited(baked, (doc) => (doc.profile.lifetime = { kind: 'days', days: 30 })))
    expect(days.failed).toBe(4)
    expect(problemsOf(days, 0)).toMatch(/client\.pem: it is valid 365 days 300 s \(.*\); the profile's lifetime is 30 days after 300 s of backdating/)
    const never = await failing(edited(baked, (doc) => (doc.profile.lifetime = { kind: 'never' })))
    expect(problemsOf(never, 3)).toMatch(/client\.pem: it ends \S+, the profile's lifetime is "never" \(9999-12-31T23:59:59.000Z\)/)
  })

  it('a profile whose subject or SAN template the certificates do not fit', async () => {
    const report = await failing(
      edited(baked, (doc) => {
        doc.profile.subject = 'CN={device-id},O=Other Fleet'
        doc.profile.san = 'DNS:{serial}.other.example.com, URI:urn:dev:{device-id}'
        doc.profile.extensions.find((e: any) => e.name === 'subjectAltName').value = doc.profile.san
      })
    )
    expect(report.failed).toBe(4)
    expect(problemsOf(report, 0)).toContain(
      'client.pem: the subject does not fit the profile\'s subject template "CN={device-id},O=Other Fleet" for serial LI-01 and device ID dev-li-01'
    )
    expect(problemsOf(report, 0)).toContain('does not fit the profile\'s san template "DNS:{serial}.other.example.com, URI:urn:dev:{device-id}"')
  })

  it('a different fleet CA subject (or any other fact of it)', async () => {
    const report = await failing(
      edited(baked, (doc) => {
        doc.fleetCa.subject = 'CN=Another Fleet Root'
        doc.fleetCa.intermediate = true
      })
    )
    expect(report.failed).toBe(4)
    // RFC 4514 order: most specific first (openssl's "/CN=Lies Fleet Root/O=Example" has O at the top).
    expect(problemsOf(report, 2)).toContain('client.pem: its CA\'s subject is "O=Example,CN=Lies Fleet Root", the manifest\'s fleetCa.subject is "CN=Another Fleet Root"')
    expect(problemsOf(report, 2)).toContain("client.pem: its CA is a root (self-issued), the manifest's fleetCa.intermediate is true")
  })

  it("a fleet CA fingerprint that is not the CA's", async () => {
    const report = await failing(edited(baked, (doc) => (doc.fleetCa.sha256 = 'b'.repeat(64))))
    expect(problemsOf(report, 0)).toMatch(/client\.pem: issued by O=Example,CN=Lies Fleet Root \(SHA-256 [0-9a-f]{64}\), not by the manifest's fleet CA \(b{64}\)/)
  })

  it('counts that do not agree with the entries', async () => {
    const report = await failing(
      edited(baked, (doc) => {
        doc.counts.devices = 5
        doc.counts.superseded = 1
      })
    )
    expect(report.failed).toBe(0)
    expect(report.problems).toEqual(["the manifest's counts.devices is 5, it lists 4 devices", "the manifest's counts.superseded is 1, it lists 0 superseded certificates"])
    const text = await verify(edited(baked, (doc) => (doc.counts.devices = 3)))
    expect(text.status).toBe(7)
    expect(text.stdout).toContain("review: the manifest's counts.devices is 3, it lists 4 devices\n")
    expect(text.stdout).toContain('verified 4 devices: 4 passed, 0 failed; 1 problem with the review as a whole\n')
  })

  it('a superseded entry that is an active certificate, or listed twice', async () => {
    const report = await failing(
      edited(overwritten, (doc) => {
        doc.superseded[0] = { ...doc.superseded[0], sha256: doc.devices[0].certificate.sha256 }
        doc.superseded.push(structuredClone(doc.superseded[1]))
        doc.counts.superseded = 5
      })
    )
    expect(report.failed).toBe(0)
    const problems = report.problems.join('\n')
    expect(problems).toContain('superseded entry 0 (serial LI-01, certificate ')
    expect(problems).toContain('is the active certificate of device LI-01: a certificate whose output is live is never superseded')
    expect(problems).toMatch(/superseded entry 4 \(serial LI-02, certificate [0-9a-f]{64}\) is listed twice \(also entry 1\)/)
    expect(problems).toMatch(/superseded\.pem has certificate [0-9a-f]{64} in the place of superseded entry 0/)
    expect(problems).toContain('superseded.pem ends before the certificate of superseded entry 4')
  })
})

describe('the review files beside the manifest', () => {
  // Past the middle, inside a block or line (the middle itself may fall between two).
  const cut = (file: string): void => truncateSync(file, Math.floor(readFileSync(file).length / 2) + 40)
  const garbage = (file: string): void => writeFileSync(file, 'this is not what credbake wrote\n'.repeat(20))

  it('certificates.pem cut in half', async () => {
    const copy = copyOf(baked)
    cut(path.join(copy, 'certificates.pem'))
    const report = await failing(copy)
    expect(report.problems.join('\n')).toMatch(
      /certificates\.pem is not a file of certificates as credbake writes it: the block at line \d+ has no "-----END CERTIFICATE-----" line \(cut off\?\)/
    )
    expect(failedSerials(report)).toEqual(['LI-03', 'LI-04'])
    expect(problemsOf(report, 2)).toBe("certificates.pem is unreadable at this device's certificate")
  })

  it('certificates.pem replaced by garbage, missing, or with a certificate more', async () => {
    const copy = copyOf(baked)
    garbage(path.join(copy, 'certificates.pem'))
    const report = await failing(copy)
    expect(report.problems.join('\n')).toContain('certificates.pem is not a file of certificates as credbake writes it: line 1 is not "-----BEGIN CERTIFICATE-----"')
    expect(failedSerials(report)).toEqual(SERIALS)
    expect(problemsOf(report, 0)).toBe("certificates.pem is unreadable at this device's certificate")
    expect(problemsOf(report, 3)).toBe("certificates.pem is unreadable before this device's certificate")

    const missing = copyOf(baked)
    writeFileSync(path.join(missing, 'certificates.pem'), '')
    const empty = await failing(missing)
    expect(failedSerials(empty)).toEqual(SERIALS)
    expect(problemsOf(empty, 0)).toBe("certificates.pem ends before this device's certificate (it holds 0)")

    const more = copyOf(baked)
    appendFileSync(
      path.join(more, 'certificates.pem'),
      readFileSync(path.join(overwritten, 'superseded.pem'), 'utf8').split('-----END CERTIFICATE-----\n')[0] + '-----END CERTIFICATE-----\n'
    )
    const extra = await failing(more)
    expect(extra.failed).toBe(0)
    expect(extra.problems).toEqual(['certificates.pem holds 1 certificate more than the manifest lists devices'])
  })

  it("certificates.pem with one certificate replaced by another device's", async () => {
    const copy = copyOf(baked)
    const file = path.join(copy, 'certificates.pem')
    const blocks = readFileSync(file, 'utf8').split(/(?<=-----END CERTIFICATE-----\n)/)
    blocks[2] = blocks[1]!
    writeFileSync(file, blocks.join(''))
    const report = await failing(copy)
    expect(failedSerials(report)).toEqual(['LI-03'])
    expect(problemsOf(report, 2)).toMatch(/^certificates\.pem has certificate [0-9a-f]{64} at this device's place \(block 3, line \d+\), the manifest records [0-9a-f]{64}$/)
  })

  it('superseded.pem cut, replaced by garbage, or with a certificate more', async () => {
    const cutCopy = copyOf(overwritten)
    cut(path.join(cutCopy, 'superseded.pem'))
    const report = await failing(cutCopy)
    expect(report.failed).toBe(0)
    expect(report.problems.join('\n')).toMatch(/superseded\.pem is not a file of certificates as credbake writes it: the block at line \d+ has no "-----END CERTIFICATE-----" line/)

    const garbageCopy = copyOf(overwritten)
    garbage(path.join(garbageCopy, 'superseded.pem'))
    expect((await failing(garbageCopy)).problems.join('\n')).toContain(
      'superseded.pem is not a file of certificates as credbake writes it: line 1 is not "-----BEGIN CERTIFICATE-----"'
    )

    const extraCopy = copyOf(overwritten)
    appendFileSync(path.join(extraCopy, 'superseded.pem'), readFileSync(path.join(overwritten, 'certificates.pem'), 'utf8'))
    expect((await failing(extraCopy)).problems).toEqual(["superseded.pem holds 4 certificates more than the manifest's superseded list"])

    const swapped = copyOf(overwritten)
    const file = path.join(swapped, 'superseded.pem')
    const blocks = readFileSync(file, 'utf8').split(/(?<=-----END CERTIFICATE-----\n)/)
    ;[blocks[0], blocks[3]] = [blocks[3]!, blocks[0]!]
    writeFileSync(file, blocks.join(''))
    const out = await failing(swapped)
    expect(out.problems).toHaveLength(2)
    expect(out.problems[0]).toMatch(
      /^superseded\.pem has certificate [0-9a-f]{64} in the place of superseded entry 0 \(serial LI-01, certificate [0-9a-f]{64}\) \(block 1, line 1\)$/
    )
  })

  it('SHA256SUMS cut, replaced by garbage, a line changed, or a line more', async () => {
    const cutCopy = copyOf(baked)
    cut(path.join(cutCopy, 'SHA256SUMS'))
    const cutReport = await failing(cutCopy)
    expect(failedSerials(cutReport)).toEqual(['LI-03', 'LI-04'])
    expect(problemsOf(cutReport, 2)).toMatch(/^SHA256SUMS line 3 is "[0-9a-f]{40}", the manifest gives "[0-9a-f]{64} {2}overlays\/LI-03\.tar\.gz"$/)
    expect(problemsOf(cutReport, 3)).toBe('SHA256SUMS ends before this device\'s line "' + readFileSync(path.join(baked, 'SHA256SUMS'), 'utf8').split('\n')[3] + '"')

    const garbageCopy = copyOf(baked)
    garbage(path.join(garbageCopy, 'SHA256SUMS'))
    const garbageReport = await failing(garbageCopy)
    expect(failedSerials(garbageReport)).toEqual(SERIALS)
    expect(garbageReport.problems).toEqual(["SHA256SUMS has 16 lines more than the outputs of the manifest's devices"])

    const changed = copyOf(baked)
    const sums = path.join(changed, 'SHA256SUMS')
    writeFileSync(sums, readFileSync(sums, 'utf8').replace(/^[0-9a-f]{8}/m, '00000000'))
    expect(failedSerials(await failing(changed))).toEqual(['LI-01'])

    const extra = copyOf(baked)
    appendFileSync(path.join(extra, 'SHA256SUMS'), `${'0'.repeat(64)}  overlays/LI-99.tar.gz\n`)
    expect((await failing(extra)).problems).toEqual(["SHA256SUMS has 1 line more than the outputs of the manifest's devices"])
  })
})
