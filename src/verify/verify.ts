// `credbake verify`: a review manifest checked against the outputs as they are now, at the bake's
// pace and in memory that does not grow with the fleet.
//
// 1. The manifest is scanned once (manifest-scan.ts): its header and footer are parsed and checked
//    against the schema and each other (counts), its device entries only located.
// 2. The device entries go, in batches of their own bytes, to worker threads (pool.ts) that check
//    each against its output (device.ts, outputs.ts, certificates.ts) and return its problems and
//    the few facts the manifest-wide checks need.
// 3. This thread takes the results in manifest order: serials, certificate fingerprints and serial
//    numbers must be unique; certificates.pem must hold exactly the devices' certificates and
//    SHA256SUMS exactly their lines, read in step (companions.ts); each registration export the
//    header names (exports/*.jsonl) exactly the line credbake makes of the device and its
//    certificate (the same function wrote it); each device is reported as it is done. Then the
//    files the exports wrote against SHA256SUMS and the manifest's `exported`, the superseded
//    list against superseded.pem, and the files an export makes from the fleet CA alone (made
//    again when the certificates given hold it).
// A device's problems are collected, never thrown: one broken output does not hide the others. A
// manifest that is not JSON or off its schema is refused (ManifestError, exit 2) where the scan or
// the check finds it.
import type { X509Certificate } from 'node:crypto'
import { stat, type FileHandle } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { ManifestError, messageOf } from '../errors.js'
import { capYoungGeneration } from '../pipeline/young-generation.js'
import { findFormat } from '../formats/registry.js'
import { SHA256SUMS_FILE, sha256SumsLine } from '../exports/sha256sums.js'
import { registriesNamed, registryDevice } from '../exports/registration.js'
import type { RegistryExport } from '../exports/types.js'
import {
  CERTIFICATES_FILE,
  SUPERSEDED_FILE,
  type ExportSummary,
  type ManifestCrl,
  type ManifestHeader,
  type RevokedCertificate,
  type SupersededCertificate,
  type SupersededReason
} from '../shapes/review.js'
import { checkWay, outputPathProblem } from '../util/confined.js'
import { sha256File } from '../util/fsx.js'
import { sha256Hex } from '../util/hash.js'
import { toPem } from '../util/pem.js'
import { SecretTemp } from '../util/secret-temp.js'
import { loadTrust, parseCertificate } from './certificates.js'
import { crlProblems } from './crl.js'
import { LineReader, PemReader } from './companions.js'
import { entryTexts, openReviewManifest, readEntries, scanManifest, type EntryRanges, type ManifestScan } from './manifest-scan.js'
import { createEntryChecker, warmEntryCheckers, type EntryChecker } from './pool.js'
import { validateArrayElement, validateManifest } from './schema.js'
import type { EntryResult } from './types.js'
import { HexSet } from './unique.js'

export interface DeviceReport {
  serial: string
  ok: boolean
  problems: string[]
}

export interface VerifySummary {
  devices: number
  passed: number
  failed: number
  /** What is wrong with the review as a whole (counts, companion files, the superseded list, crl.pem). */
  problems: string[]
  /**
   * Devices revoked with `credbake revoke`: their outputs are checked like any other (they pass
   * when intact); they are reported here, not as failures.
   */
  revoked: Array<{ serial: string; reason: string; revokedAt: string /** False once the device was issued a new certificate (reissue-revoked). */; active: boolean }>
}

export interface VerifyOptions {
  manifest: string
  fleetCaCert: string
  /** Default: the manifest's folder. */
  outputDir?: string
  /** Parent of the secret temp folder; default RUNNER_TEMP or the OS temp dir. */
  tempRoot?: string
  /** Worker threads: 0 (default) one per core; 1 checks on this thread. */
  concurrency?: number
  /** Each device's report, in manifest order, as soon as it is done. */
  onDevice?: (report: DeviceReport) => void
  onProgress?: (done: number, total: number) => void
}

/** Entries per batch sent to a worker: many small outputs, or one image (each a few hundred MiB). */
const SMALL_OUTPUT_BATCH = 32
/** Batches in flight per checking thread. */
const BATCHES_PER_THREAD = 2
/** Superseded entries parsed at once. */
const SUPERSEDED_BATCH = 256
/** Bytes of manifest per device entry, at least (a tar entry is about 1,100): guesses the fleet size before the scan. */
const BYTES_PER_ENTRY = 1024
/** Most problems of the header shown in the refusal. */
const SHOWN_PROBLEMS = 3

/** The header and footer (every member but the two arrays) against the schema; ManifestError when off it. */
function checkedHeader(scan: ManifestScan): ManifestHeader {
  const value: Record<string, unknown> = { ...scan.members }
  if (scan.devices) value.devices = []
  if (scan.superseded) value.superseded = []
  const problems = validateManifest(value)
  if (problems.length > 0) {
    const shown = problems
      .slice(0, SHOWN_PROBLEMS)
      .map((p) => `${p.path || '(top level)'} ${p.message}`)
      .join('; ')
    const more = problems.length > SHOWN_PROBLEMS ? ` (and ${problems.length - SHOWN_PROBLEMS} more)` : ''
    throw new ManifestError(`manifest ${scan.file} does not match schema/manifest.schema.json: ${shown}${more}`, { file: scan.file })
  }
  return scan.members as unknown as ManifestHeader
}

interface Footer {
  counts: { devices: number; superseded: number }
  merged?: Array<{ devices: number; superseded: number }>
}

/** The header's counts against the entries there are. */
function countProblems(scan: ManifestScan): string[] {
  const { counts, merged } = scan.members as unknown as Footer
  const devices = scan.devices?.length ?? 0
  const superseded = scan.superseded?.length ?? 0
  const problems: string[] = []
  if (counts.devices !== devices) problems.push(`the manifest's counts.devices is ${counts.devices}, it lists ${devices} devices`)
  if (counts.superseded !== superseded) problems.push(`the manifest's counts.superseded is ${counts.superseded}, it lists ${superseded} superseded certificates`)
  if (merged) {
    const sum = (key: 'devices' | 'superseded'): number => merged.reduce((total, shard) => total + shard[key], 0)
    if (sum('devices') !== devices) problems.push(`the shards in "merged" add up to ${sum('devices')} devices, the manifest lists ${devices}`)
    if (sum('superseded') !== superseded) problems.push(`the shards in "merged" add up to ${sum('superseded')} superseded certificates, the manifest lists ${superseded}`)
  }
  return problems
}

/** Verify every device of the manifest; each device's report goes to `onDevice` as it is done. */
export async function verifyOutputs(options: VerifyOptions): Promise<VerifySummary> {
  // As in a bake: this thread's young generation stops growing at 16 MiB (a 100,000-device verify
  // makes many short-lived objects, which V8 would otherwise let reach twice that).
  const youngGeneration = capYoungGeneration()
  try {
    return await verifyWith(options)
  } finally {
    youngGeneration.stop()
  }
}

async function verifyWith(options: VerifyOptions): Promise<VerifySummary> {
  const trust = await loadTrust(options.fleetCaCert)
  const concurrency = options.concurrency ?? 0
  // The workers start now and load while the manifest is scanned; their number is guessed from
  // its size (a device entry takes about a kilobyte), or taken as given.
  const guess =
    concurrency > 1
      ? Number.MAX_SAFE_INTEGER
      : Math.floor(
          (await stat(options.manifest)
            .then((s) => s.size)
            .catch(() => 0)) / BYTES_PER_ENTRY
        )
  const warm = warmEntryCheckers({ concurrency, devices: guess })
  let scan: ManifestScan
  let header: ManifestHeader
  try {
    scan = await scanManifest(options.manifest)
    header = checkedHeader(scan)
  } catch (error) {
    await warm?.release()
    throw error
  }
  const outputDir = path.resolve(options.outputDir ?? path.dirname(path.resolve(options.manifest)))
  const summary: VerifySummary = { devices: 0, passed: 0, failed: 0, problems: countProblems(scan), revoked: [] }
  let secrets: SecretTemp | undefined
  let handle: FileHandle | undefined
  let checker: EntryChecker | undefined
  try {
    secrets = await SecretTemp.create(options.tempRoot ?? process.env.RUNNER_TEMP ?? os.tmpdir())
    handle = await openReviewManifest(options.manifest)
    const devices = scan.devices?.length ?? 0
    // An explicit thread count is taken as given, however few the devices.
    checker = createEntryChecker(
      { outputDir, header, tempDir: secrets.dir, trust: trust.map((certificate: X509Certificate) => certificate.raw) },
      { concurrency, devices: concurrency > 1 ? Number.MAX_SAFE_INTEGER : devices },
      warm
    )
    const run = new DeviceRun(scan, handle, header, outputDir, summary, options)
    await run.open()
    try {
      await run.devices(checker)
      await run.superseded()
    } finally {
      await run.close()
    }
    summary.problems.push(...(await fleetCaFileProblems(outputDir, header, trust)))
    const { crl, revoked = [] } = scan.members as { crl?: ManifestCrl; revoked?: RevokedCertificate[] }
    summary.revoked = revoked.map(({ serial, reason, revokedAt, sha256 }) => ({ serial, reason, revokedAt, active: run.holdsActive(sha256) }))
    summary.problems.push(...(await crlProblems(outputDir, trust, { fleetCaSha256: header.fleetCa.sha256, ...(crl ? { crl } : {}), superseded: run.supersededReasons, revoked })))
  } finally {
    if (checker) await checker.close()
    else await warm?.release()
    await handle?.close()
    await secrets?.remove()
  }
  return summary
}

/**
 * The files a registration export makes from the fleet CA alone (aws-iot-template.json), made
 * again from the fleet CA certificate and compared byte for byte, when the certificates given to
 * verify hold it (a root alone does not: those files are then checked through SHA256SUMS only).
 */
async function fleetCaFileProblems(outputDir: string, header: ManifestHeader, trust: readonly X509Certificate[]): Promise<string[]> {
  const fleetCa = trust.find((certificate) => sha256Hex(certificate.raw) === header.fleetCa.sha256)
  if (!fleetCa) return []
  const problems: string[] = []
  for (const registry of registriesNamed(header.exports)) {
    let files: Array<{ path: string; text: string }>
    try {
      files = registry.caFiles(toPem('CERTIFICATE', fleetCa.raw))
    } catch (error) {
      problems.push(`the ${registry.name} files cannot be made from the fleet CA certificate (${messageOf(error)})`)
      continue
    }
    for (const file of files) {
      const actual = await checkWay(outputDir, file.path)
        .then(() => sha256File(path.join(outputDir, file.path), { inside: true }))
        .catch((error: unknown) => `unreadable (${messageOf(error)})`)
      if (actual !== sha256Hex(Buffer.from(file.text))) {
        problems.push(
          `${file.path} is not the ${registry.name} file credbake makes from the fleet CA certificate (${header.fleetCa.subject})${actual.length === 64 ? '' : `: ${actual}`}`
        )
      }
    }
  }
  return problems
}

/** The manifest-wide state while the devices are checked in order. */
class DeviceRun {
  /** SHA-256 of each serial (its first 16 bytes): serials are kept as bytes, not as 100,000 strings. */
  private readonly serials: HexSet
  private readonly fingerprints: HexSet
  private readonly serialNumbers: HexSet
  private certificates: PemReader | undefined
  /** certificates.pem could not be read past some device: every device after it lacks its certificate there. */
  private certificatesBroken = false
  private sums: LineReader | undefined
  /** The registration exports the header names, each read in step with the devices. */
  private registrations: Array<{ registry: RegistryExport; lines: LineReader | undefined; broken: boolean }> = []
  /** The current device's certificate as certificates.pem holds it (PEM), when it is the one the manifest records. */
  private certificatePem: string | undefined
  /** Export files SHA256SUMS lists after the devices' lines: path → SHA-256. */
  private readonly exportSums = new Map<string, string>()
  private readonly total: number
  /** Whether a device of the manifest holds this certificate (SHA-256) as its active one. */
  holdsActive(sha256: string): boolean {
    return this.fingerprints.find(sha256) !== -1
  }

  /** Per superseded certificate serial number, its reason (what crl.pem must list). */
  readonly supersededReasons = new Map<string, SupersededReason>()

  constructor(
    private readonly scan: ManifestScan,
    private readonly handle: FileHandle,
    private readonly header: ManifestHeader,
    private readonly outputDir: string,
    private readonly summary: VerifySummary,
    private readonly options: VerifyOptions
  ) {
    this.total = scan.devices?.length ?? 0
    this.serials = new HexSet(16, this.total)
    this.fingerprints = new HexSet(32, this.total)
    this.serialNumbers = new HexSet(16, this.total)
  }

  async open(): Promise<void> {
    const certificates = await PemReader.open(path.join(this.outputDir, CERTIFICATES_FILE))
    if (typeof certificates === 'string') this.summary.problems.push(`${CERTIFICATES_FILE} ${certificates}`)
    else this.certificates = certificates
    const sums = await LineReader.open(path.join(this.outputDir, SHA256SUMS_FILE))
    if (typeof sums === 'string') this.summary.problems.push(`${SHA256SUMS_FILE} ${sums}`)
    else this.sums = sums
    for (const registry of registriesNamed(this.header.exports)) {
      // Never through a link: exports/ is checked to be a real folder on the way.
      const lines = await checkWay(this.outputDir, registry.jsonlPath)
        .then(() => LineReader.open(path.join(this.outputDir, registry.jsonlPath)))
        .catch((error: unknown) => `cannot be reached (${messageOf(error)})`)
      if (typeof lines === 'string') this.summary.problems.push(`${registry.jsonlPath} ${lines}, and the manifest's exports name ${registry.name}`)
      this.registrations.push({ registry, lines: typeof lines === 'string' ? undefined : lines, broken: false })
    }
  }

  async close(): Promise<void> {
    await this.certificates?.close()
    await this.sums?.close()
    for (const { lines } of this.registrations) await lines?.close()
  }

  /** Every device entry, checked by `checker`, taken in manifest order. */
  async devices(checker: EntryChecker): Promise<void> {
    const ranges = this.scan.devices
    if (!ranges || ranges.length === 0) return this.companionsEnd()
    const format = this.header.output.format
    const batchSize = findFormat(format)?.largeOutputs ? 1 : SMALL_OUTPUT_BATCH
    const window = Math.max(2, checker.threads * BATCHES_PER_THREAD)
    const queue: Array<Promise<EntryResult[]>> = []
    let next = 0
    const fill = async (): Promise<void> => {
      while (queue.length < window && next < ranges.length) {
        const first = next
        next = Math.min(first + batchSize, ranges.length)
        const { bytes, offsets } = await readEntries(this.handle, this.scan.file, ranges, first, next)
        const results = checker.check({ bytes, offsets, first })
        results.catch(() => undefined) // awaited in order below
        queue.push(results)
      }
    }
    this.options.onProgress?.(0, this.total)
    await fill()
    while (queue.length > 0) {
      const results = await (queue.shift() as Promise<EntryResult[]>)
      await fill()
      for (const result of results) await this.take(result)
      this.options.onProgress?.(this.summary.devices, this.total)
    }
    await this.companionsEnd()
  }

  /** One device's result: the manifest-wide checks, then its report. */
  private async take(result: EntryResult): Promise<void> {
    if (result.malformed !== undefined) throw new ManifestError(`manifest ${this.scan.file}: ${result.malformed}`, { file: this.scan.file })
    const serial = result.serial as string
    const problems = [...(await this.uniqueness(result)), ...result.problems]
    problems.push(...(await this.certificateInPlace(result)), ...(await this.sumsInPlace(result)), ...(await this.registrationsInPlace(result)))
    this.summary.devices++
    if (problems.length === 0) this.summary.passed++
    else this.summary.failed++
    this.options.onDevice?.({ serial, ok: problems.length === 0, problems })
  }

  private async uniqueness(result: EntryResult): Promise<string[]> {
    const problems: string[] = []
    const serial = result.serial as string
    const before = this.serials.add(sha256Hex(serial).slice(0, 32), result.index)
    if (before !== -1) problems.push(`serial ${serial} is listed twice in the manifest (device entries ${before} and ${result.index})`)
    const sameCertificate = this.fingerprints.add(result.certificateSha256 as string, result.index)
    if (sameCertificate !== -1)
      problems.push(
        `its certificate ${result.certificateSha256} is also the certificate of device ${await this.serialAt(sameCertificate)} (entry ${sameCertificate}): one certificate, two devices`
      )
    const sameSerialNumber = this.serialNumbers.add(result.serialNumber as string, result.index)
    if (sameSerialNumber !== -1 && sameSerialNumber !== sameCertificate) {
      problems.push(
        `its certificate serial number ${result.serialNumber} is also that of device ${await this.serialAt(sameSerialNumber)}'s certificate (entry ${sameSerialNumber})`
      )
    }
    return problems
  }

  /** The serial of an earlier device entry, read again from the manifest (for the rare message that names it). */
  async serialAt(index: number): Promise<string> {
    const ranges = this.scan.devices as EntryRanges
    const { bytes, offsets } = await readEntries(this.handle, this.scan.file, ranges, index, index + 1)
    try {
      return String((JSON.parse(entryTexts(bytes, offsets, index)[0]!.text) as { serial?: unknown }).serial)
    } catch {
      return `#${index}`
    }
  }

  /** certificates.pem's next block is this device's certificate. */
  private async certificateInPlace(result: EntryResult): Promise<string[]> {
    this.certificatePem = undefined
    if (this.certificatesBroken) return [`${CERTIFICATES_FILE} is unreadable before this device's certificate`]
    if (!this.certificates) return []
    const block = await this.certificates.block()
    if (block === null) return [`${CERTIFICATES_FILE} ends before this device's certificate (it holds ${this.certificates.count})`]
    if ('problem' in block) {
      this.summary.problems.push(`${CERTIFICATES_FILE} is not a file of certificates as credbake writes it: ${block.problem} (verify read no further)`)
      await this.certificates.close()
      this.certificates = undefined
      this.certificatesBroken = true
      return [`${CERTIFICATES_FILE} is unreadable at this device's certificate`]
    }
    if (block.sha256 === result.certificateSha256) this.certificatePem = toPem('CERTIFICATE', block.der)
    return block.sha256 === result.certificateSha256
      ? []
      : [
          `${CERTIFICATES_FILE} has certificate ${block.sha256} at this device's place (block ${this.certificates.count}, line ${block.line}), the manifest records ${result.certificateSha256}`
        ]
  }

  /** SHA256SUMS's next lines are this device's (one per output file; all of them are read, so the next device's stay in step). */
  private async sumsInPlace(result: EntryResult): Promise<string[]> {
    if (!this.sums || result.sums === undefined) return []
    let problem: string | undefined
    for (const [file, sha256] of result.sums) {
      const actual = await this.sums.line()
      if (problem !== undefined) continue
      let line: string
      try {
        // Lines are read as latin1: the expected line's UTF-8 bytes are compared the same way.
        line = Buffer.from(sha256SumsLine(file, sha256).slice(0, -1), 'utf8').toString('latin1')
      } catch (error) {
        problem = `${SHA256SUMS_FILE} cannot list ${JSON.stringify(file)} (${messageOf(error)})`
        continue
      }
      if (actual === null) problem = `${SHA256SUMS_FILE} ends before this device's line "${line}"`
      else if (actual !== line) problem = `${SHA256SUMS_FILE} line ${this.sums.count} is "${actual.slice(0, 200)}", the manifest gives "${line}"`
    }
    return problem === undefined ? [] : [problem]
  }

  /**
   * The next line of each registration export is this device's, byte for byte as credbake makes it
   * from the manifest entry and the certificate certificates.pem holds for it (checked above).
   */
  private async registrationsInPlace(result: EntryResult): Promise<string[]> {
    const problems: string[] = []
    for (const registration of this.registrations) {
      const { registry, lines } = registration
      if (!lines || registration.broken) continue
      let actual: string | null
      try {
        actual = await lines.line()
      } catch (error) {
        this.summary.problems.push(`${registry.jsonlPath} cannot be read past line ${lines.count} (${messageOf(error)})`)
        registration.broken = true
        continue
      }
      if (actual === null) {
        problems.push(`${registry.jsonlPath} ends before this device's line (it holds ${lines.count} lines)`)
        registration.broken = true
        continue
      }
      if (this.certificatePem === undefined) {
        problems.push(`${registry.jsonlPath} line ${lines.count} cannot be checked: ${CERTIFICATES_FILE} does not hold this device's certificate`)
        continue
      }
      const made = registry.line(
        registryDevice({ serial: result.serial as string, deviceId: result.deviceId as string, subject: result.subject as string, certificatePem: this.certificatePem })
      )
      // Lines are read as latin1: the expected line's UTF-8 bytes are compared the same way.
      if (actual !== Buffer.from(made, 'utf8').toString('latin1')) {
        problems.push(`${registry.jsonlPath} line ${lines.count} is not this device's ${registry.name} registration (credbake makes ${made.slice(0, 120)}…)`)
      }
    }
    return problems
  }

  /** After the last device: nothing more in certificates.pem and SHA256SUMS. */
  private async companionsEnd(): Promise<void> {
    if (this.certificates) {
      let extra = 0
      for (let block = await this.certificates.block(); block !== null; block = await this.certificates.block()) {
        if ('problem' in block) {
          this.summary.problems.push(`${CERTIFICATES_FILE} has more than the devices' certificates, and then text that is not one (${block.problem})`)
          break
        }
        extra++
      }
      if (extra > 0) this.summary.problems.push(`${CERTIFICATES_FILE} holds ${extra} certificate${extra === 1 ? '' : 's'} more than the manifest lists devices`)
    }
    if (this.sums) {
      // After the devices' lines: one per file an export wrote under exports/ (registration files),
      // each checked against the file; anything else is a line too many.
      let extra = 0
      for (let line = await this.sums.line(); line !== null; line = await this.sums.line()) {
        const exported = /^([0-9a-f]{64}) {2}(exports\/[^\\/][^\\]*)$/.exec(line)
        if (!exported || outputPathProblem(exported[2], ['exports']) !== undefined) {
          extra++
          continue
        }
        const file = exported[2] as string
        this.exportSums.set(file, exported[1] as string)
        const actual = await checkWay(this.outputDir, file)
          .then(() => sha256File(path.join(this.outputDir, file), { inside: true }))
          .catch((error: unknown) => `unreadable (${messageOf(error)})`)
        if (actual !== exported[1])
          this.summary.problems.push(`${SHA256SUMS_FILE} lists ${file} with SHA-256 ${exported[1]}, the file is ${actual.length === 64 ? `SHA-256 ${actual}` : actual}`)
      }
      if (extra > 0) this.summary.problems.push(`${SHA256SUMS_FILE} has ${extra} line${extra === 1 ? '' : 's'} more than the outputs of the manifest's devices`)
    }
    for (const { registry, lines, broken } of this.registrations) {
      if (!lines || broken) continue
      let extra = 0
      while ((await lines.line()) !== null) extra++
      if (extra > 0) this.summary.problems.push(`${registry.jsonlPath} holds ${extra} line${extra === 1 ? '' : 's'} more than the manifest lists devices`)
    }
    this.summary.problems.push(...this.exportedProblems())
  }

  /**
   * The manifest's `exported` against what it names and lists: one entry per export the header
   * names, each file of the export listed in SHA256SUMS with the SHA-256 recorded, each
   * one-line-per-device file counting the manifest's devices.
   */
  private exportedProblems(): string[] {
    const exported = (this.scan.members as { exported?: ExportSummary[] }).exported ?? []
    const named = this.header.exports ?? []
    const problems: string[] = []
    const names = exported.map((item) => item.name)
    if (names.join(',') !== named.join(',')) {
      problems.push(`the manifest's exported lists ${names.length ? names.join(', ') : 'no export'}, its exports name ${named.length ? named.join(', ') : 'none'}`)
    }
    if (!this.sums) return problems
    for (const item of exported) {
      for (const file of item.files) {
        const listed = this.exportSums.get(file.path)
        if (listed === undefined) problems.push(`${SHA256SUMS_FILE} does not list ${file.path}, which the manifest's exported records for ${item.name}`)
        else if (listed !== file.sha256) problems.push(`${SHA256SUMS_FILE} lists ${file.path} with SHA-256 ${listed}, the manifest's exported records ${file.sha256}`)
        if (file.devices !== undefined && file.devices !== this.total)
          problems.push(`the manifest's exported says ${file.path} lists ${file.devices} devices, the manifest lists ${this.total}`)
      }
    }
    return problems
  }

  /** The superseded list: each entry on the schema, none an active certificate, none twice, superseded.pem holding exactly them. */
  async superseded(): Promise<void> {
    const ranges = this.scan.superseded
    const pems = await PemReader.open(path.join(this.outputDir, SUPERSEDED_FILE))
    if (typeof pems === 'string') this.summary.problems.push(`${SUPERSEDED_FILE} ${pems}`)
    const reader = typeof pems === 'string' ? undefined : pems
    try {
      const seen = new HexSet(32, ranges?.length ?? 0)
      let readable = reader !== undefined
      for (let first = 0; ranges && first < ranges.length; first += SUPERSEDED_BATCH) {
        for (const entry of await this.supersededEntries(ranges, first)) {
          const at = `superseded entry ${entry.index} (serial ${entry.value.serial}, certificate ${entry.value.sha256})`
          this.supersededReasons.set(entry.value.serialNumber, entry.value.reason)
          const active = this.fingerprints.find(entry.value.sha256)
          if (active !== -1)
            this.summary.problems.push(`${at} is the active certificate of device ${await this.serialAt(active)}: a certificate whose output is live is never superseded`)
          const twice = seen.add(entry.value.sha256, entry.index)
          if (twice !== -1) this.summary.problems.push(`${at} is listed twice (also entry ${twice})`)
          if (!readable || !reader) continue
          const block = await reader.block()
          if (block === null) {
            this.summary.problems.push(`${SUPERSEDED_FILE} ends before the certificate of ${at} (it holds ${reader.count})`)
            readable = false
          } else if ('problem' in block) {
            this.summary.problems.push(`${SUPERSEDED_FILE} is not a file of certificates as credbake writes it: ${block.problem} (verify read no further)`)
            readable = false
          } else this.summary.problems.push(...supersededBlockProblems(at, block, entry.value, reader.count))
        }
      }
      if (readable && reader) {
        let extra = 0
        for (let block = await reader.block(); block !== null && !('problem' in block); block = await reader.block()) extra++
        if (extra > 0) this.summary.problems.push(`${SUPERSEDED_FILE} holds ${extra} certificate${extra === 1 ? '' : 's'} more than the manifest's superseded list`)
      }
    } finally {
      await reader?.close()
    }
  }

  private async supersededEntries(ranges: EntryRanges, first: number): Promise<Array<{ index: number; value: SupersededCertificate }>> {
    const to = Math.min(first + SUPERSEDED_BATCH, ranges.length)
    const { bytes, offsets } = await readEntries(this.handle, this.scan.file, ranges, first, to)
    return entryTexts(bytes, offsets, first).map(({ index, text }) => {
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch (error) {
        throw new ManifestError(`manifest ${this.scan.file}: superseded entry ${index} is not JSON (${messageOf(error)})`, { file: this.scan.file })
      }
      const problems = validateArrayElement('superseded', index, value)
      if (problems.length > 0) {
        throw new ManifestError(
          `manifest ${this.scan.file} does not match schema/manifest.schema.json: ${problems
            .slice(0, SHOWN_PROBLEMS)
            .map((p) => `${p.path} ${p.message}`)
            .join('; ')}`,
          { file: this.scan.file }
        )
      }
      return { index, value: value as SupersededCertificate }
    })
  }
}

/** A superseded.pem block against its entry: the same certificate, whose serial number, end and CN the entry states. */
function supersededBlockProblems(at: string, block: { sha256: string; der: Buffer; line: number }, entry: SupersededCertificate, number: number): string[] {
  if (block.sha256 !== entry.sha256) return [`${SUPERSEDED_FILE} has certificate ${block.sha256} in the place of ${at} (block ${number}, line ${block.line})`]
  let certificate
  try {
    certificate = parseCertificate(block.der)
  } catch (error) {
    return [`${SUPERSEDED_FILE}: the certificate of ${at} cannot be decoded (${messageOf(error)})`]
  }
  const problems: string[] = []
  const serialNumber = certificate.serialHex.padStart(32, '0')
  if (serialNumber !== entry.serialNumber) problems.push(`${at}: its certificate's serial number is ${serialNumber}, the entry records ${entry.serialNumber}`)
  if (certificate.notAfter.getTime() !== new Date(entry.notAfter).getTime())
    problems.push(`${at}: its certificate is valid until ${certificate.notAfter.toISOString()}, the entry records ${entry.notAfter}`)
  const cn = certificate.subject.flat().find((a) => a.oid === '2.5.4.3')?.value
  if (cn !== entry.deviceId) problems.push(`${at}: its certificate's CN is "${cn}", the entry's deviceId is "${entry.deviceId}"`)
  return problems
}
