// Builds the review manifest from the journal, and hands every device and superseded certificate to
// the review exports (certificates.pem, superseded.pem, SHA256SUMS, ...: src/exports/registry.ts),
// in two streaming passes: the journal is the truth, the manifest its readable summary.
import path from 'node:path'
import { OutputError, isCredbakeError, messageOf } from '../errors.js'
import { AT, CERTIFICATE_SHA256, FieldCursor, SERIAL, WRITTEN, bytesOf } from '../journal/fields.js'
import { JOURNAL_FILE, JournalLine, scanJournal } from '../journal/journal.js'
import type { CrlRecord, IssuedRecord, ReplaceReason, RetiredRecord, RevokedRecord, RunRecord, WrittenRecord } from '../journal/records.js'
import { sanOfCertificate } from '../issue/san.js'
import { DigestColumn } from '../util/digest-column.js'
import { readPemBlocks } from '../util/pem.js'
import { deviceOfEntry, REVIEW_EXPORTS, ReviewExports } from '../exports/registry.js'
import { SHA256SUMS_FILE } from '../exports/sha256sums.js'
import type { ReviewDevice, ReviewExport } from '../exports/types.js'
import { SUMMARY_MAX_ROWS } from './summary.js'
import { ReviewWriter } from './manifest-writer.js'
import { deviceEntryText, issuedKey, issuedRecordOf, issuedText, issuedTextOf, valueOf, writtenText, type IssuedText, type WrittenText } from './raw-entry.js'
import {
  CERTIFICATES_FILE,
  CRL_PEM_FILE,
  MANIFEST_FILE,
  SUPERSEDED_FILE,
  type ExportSummary,
  type ManifestCrl,
  type RevokedCertificate,
  type ManifestDevice,
  type ManifestHeader,
  type SupersededCertificate,
  type SupersededReason
} from '../shapes/review.js'

export interface ReviewResult {
  manifest: string
  certificates: string
  superseded: string
  /** SHA256SUMS: one `sha256sum -c` line per output file. */
  checksums: string
  devices: number
  supersededCount: number
  /** supersededCount by reason, for the job summary (the reasons that occur only). */
  supersededReasons: Partial<Record<SupersededReason, number>>
  firstDevices: ManifestDevice[]
  /** What the exports the header names wrote (registration files), as the manifest records it. */
  exported: ExportSummary[]
  /** Certificates revoked with `credbake revoke` (their devices are marked revoked). */
  revoked: RevokedCertificate[]
  /** The last CRL journaled, if any. */
  crl?: ManifestCrl
}

/** The review's entry for a device, from its certificate's two journal records. */
export function deviceEntry(issued: IssuedRecord, written: WrittenRecord): ManifestDevice {
  const { certificate } = issued
  return {
    serial: issued.serial,
    deviceId: issued.basis.deviceId,
    certificate: {
      serialNumber: certificate.serialNumber,
      subject: certificate.subject,
      ...(certificate.san !== undefined ? { san: certificate.san } : {}),
      sha256: certificate.sha256,
      publicKeySha256: certificate.publicKeySha256,
      notBefore: certificate.notBefore,
      notAfter: certificate.notAfter,
      keySource: certificate.keySource
    },
    output: {
      path: written.output.path,
      size: written.output.size,
      sha256: written.output.sha256,
      ...(written.output.partition ? { partition: written.output.partition } : {}),
      ...(written.output.bmap ? { bmap: written.output.bmap } : {})
    },
    files: written.files.map((file) => {
      // Present only where the file is stored elsewhere than its device path (OSTree sysroots).
      const placed = file.partitionPath === undefined ? {} : { partitionPath: file.partitionPath }
      return file.secret
        ? { path: file.path, ...placed, mode: file.mode, owner: file.owner, privateKey: true }
        : { path: file.path, ...placed, mode: file.mode, owner: file.owner, sha256: file.sha256 ?? '', size: file.size, privateKey: false }
    })
  }
}

/**
 * Copies of the issued lines whose output has not shown yet, outside the JS heap: one buffer,
 * emptied whenever no certificate waits (after each batch, usually), compacted when full.
 * (Objects held as long would be promoted by the garbage collector and pile up until a full GC.)
 */
class Arena {
  bytes = Buffer.allocUnsafe(1 << 20)
  private used = 0

  constructor(private readonly live: () => Iterable<Waiting>) {}

  add(from: Buffer, start: number, end: number): { offset: number; length: number } {
    const length = end - start
    if (this.used + length > this.bytes.length) this.compact(length)
    const offset = this.used
    from.copy(this.bytes, offset, start, end)
    this.used += length
    return { offset, length }
  }

  clear(): void {
    this.used = 0
  }

  /** Keep only the live copies; grow when they fill more than half. */
  private compact(needed: number): void {
    const entries = [...this.live()].filter((waiting) => waiting.offset !== undefined)
    const liveBytes = entries.reduce((sum, waiting) => sum + waiting.length!, 0)
    const size = Math.max(this.bytes.length, 2 * (liveBytes + needed))
    const next = Buffer.allocUnsafe(size)
    let used = 0
    for (const waiting of entries) {
      this.bytes.copy(next, used, waiting.offset!, waiting.offset! + waiting.length!)
      waiting.offset = used
      used += waiting.length!
    }
    this.bytes = next
    this.used = used
  }
}

/** An issued certificate waiting for its output. */
interface Waiting {
  index: number
  line: number
  /** Where the record's JSON is in the arena, when laid out as encodeRecord writes it. */
  offset?: number
  length?: number
  /** Else the parsed record. */
  record?: IssuedRecord
}

interface Pending {
  index: number
  /** Undefined only for a record with fields of unusual types (then `record`). */
  text?: IssuedText
  /** Parsed when the line was laid out otherwise than encodeRecord writes it. */
  record?: IssuedRecord
}

/**
 * An active device of the review's fast path: its fields read from the two journal lines' JSON
 * text; its manifest entry made only if an export asks for it. Valid during the exports' call only.
 */
class LineDevice implements ReviewDevice {
  constructor(
    private readonly issued: IssuedText,
    private readonly written: WrittenText,
    private readonly line: JournalLine,
    private made: ManifestDevice | undefined,
    readonly ascii: boolean
  ) {}

  get serial(): string {
    return this.issued.serial
  }

  get deviceId(): string {
    return valueOf(this.issued.deviceId)
  }

  get certificatePem(): string {
    return this.issued.pem
  }

  get subject(): string {
    return valueOf(this.issued.subject)
  }

  get output(): ReviewDevice['output'] {
    return { path: valueOf(this.written.path), sha256: valueOf(this.written.sha256) }
  }

  files(): ReturnType<ReviewDevice['files']> {
    return this.made?.files ?? filesOfText(this.written)
  }

  entry(): ManifestDevice {
    this.made ??= deviceEntry(issuedRecordOf(this.issued), this.line.record() as WrittenRecord)
    return this.made
  }
}

/** Just what SHA256SUMS reads of a tree output's files, from the written line's text. */
function filesOfText(written: WrittenText): ReturnType<ReviewDevice['files']> {
  return written.files.map((file) =>
    file.secret
      ? { path: valueOf(file.path), privateKey: true }
      : {
          path: valueOf(file.path),
          ...(file.partitionPath === undefined ? {} : { partitionPath: valueOf(file.partitionPath) }),
          sha256: file.sha256 === 'null' ? '' : valueOf(file.sha256),
          privateKey: false
        }
  )
}

const cursor = new FieldCursor()
const REPLACES = bytesOf('"replaces":')

/** The serials in scope, each with a row number 0 … length-1 (the bake's compact device list). */
export interface DeviceScope {
  readonly length: number
  has(serial: string): boolean
  /** The serial's row, or -1. */
  indexOf(serial: string): number
}

function indexedScope(scope: ReadonlySet<string> | DeviceScope): DeviceScope {
  if (!(scope instanceof Set)) return scope as DeviceScope
  const rows = new Map<string, number>()
  for (const serial of scope as ReadonlySet<string>) rows.set(serial, rows.size)
  return { length: rows.size, has: (serial) => rows.has(serial), indexOf: (serial) => rows.get(serial) ?? -1 }
}

/** Per serial in scope, the certificate of its live output (one digest column by row). */
class ActiveCertificates {
  private readonly digests: DigestColumn
  /** Per row: 1 when it has a live certificate. */
  private readonly live: Uint8Array

  constructor(private readonly scope: DeviceScope) {
    this.digests = new DigestColumn(scope.length)
    this.live = new Uint8Array(scope.length)
  }

  /** Only serials in scope are noted. */
  set(serial: string, certificateSha256: string): void {
    const row = this.scope.indexOf(serial)
    if (row === -1) return
    this.digests.set(row, certificateSha256)
    this.live[row] = 1
  }

  /** Whether `certificateSha256` is the serial's live certificate. */
  is(serial: string, certificateSha256: string): boolean {
    const row = this.scope.indexOf(serial)
    return row !== -1 && this.live[row] === 1 && this.digests.equals(row, certificateSha256)
  }

  delete(serial: string): void {
    const row = this.scope.indexOf(serial)
    if (row !== -1) this.live[row] = 0
  }
}

/** A written record's serial and certificate, read in place when laid out as encodeRecord writes it. */
function writtenKey(line: JournalLine): { serial: string; certificateSha256: string } {
  const c = cursor.on(line)
  let serial, certificateSha256: string | undefined
  if (
    c.literal(WRITTEN) &&
    c.skip() &&
    c.literal(AT) &&
    c.skip() &&
    c.literal(SERIAL) &&
    (serial = c.string()) !== undefined &&
    c.literal(CERTIFICATE_SHA256) &&
    (certificateSha256 = c.string()) !== undefined
  ) {
    return { serial, certificateSha256 }
  }
  const record = line.record() as WrittenRecord
  return { serial: record.serial, certificateSha256: record.certificateSha256 }
}

/**
 * @param scope serials of the current manifest (and shard): their active certificate is the one
 *   of their live output; every other certificate ever issued is listed as superseded.
 *
 * Two passes over the journal, each reading it in big chunks: the first checks every line's
 * checksum and notes, per serial, the live certificate (reading only the few fields needed); the
 * second reads the same bytes again (the journal must be unchanged in between: same file, size and
 * modification time, else the review stops), takes the fields of issued certificates and active
 * outputs from the lines' JSON text, and streams the files.
 */
export async function writeReviewFromJournal(
  outputDir: string,
  header: ManifestHeader,
  scope: ReadonlySet<string> | DeviceScope,
  options: { fleetCaPem?: string; exports?: readonly ReviewExport[] } = {}
): Promise<ReviewResult> {
  const inScope = indexedScope(scope)
  // Pass 1 (small): each in-scope serial's live certificate, where the last overwrite began, and
  // why certificates were replaced or retired.
  const active = new ActiveCertificates(inScope)
  const replaced = new Map<string, { reason: ReplaceReason; changed?: string[] }>()
  const retired = new Set<string>()
  let overwriteFrom = 0
  let index = 0
  // Revocations and CRLs are few: parsed. A later revocation of the same certificate cannot occur (revoke refuses it).
  const revocations = new Map<string, RevokedCertificate>()
  let lastCrl: CrlRecord | undefined
  const checked = await scanJournal(outputDir, (line) => {
    switch (line.type) {
      case 'revoked': {
        const record = line.record() as RevokedRecord
        revocations.set(record.serialNumber, {
          serial: record.serial,
          serialNumber: record.serialNumber,
          sha256: record.certificateSha256,
          revokedAt: record.at,
          reason: record.reason
        })
        break
      }
      case 'crl': {
        const record = line.record() as CrlRecord
        if (!lastCrl || BigInt(record.number) > BigInt(lastCrl.number)) lastCrl = record
        break
      }
      case 'run':
        if ((line.record() as RunRecord).overwrite) overwriteFrom = index
        break
      case 'written': {
        const { serial, certificateSha256 } = writtenKey(line)
        active.set(serial, certificateSha256)
        break
      }
      case 'retired': {
        const record = line.record() as RetiredRecord
        retired.add(record.certificateSha256)
        if (active.is(record.serial, record.certificateSha256)) active.delete(record.serial)
        break
      }
      case 'issued': {
        // Only a record that replaces another says so: the rest need not be parsed here.
        if (!line.includes(REPLACES)) break
        const { replaces } = line.record() as IssuedRecord
        if (replaces) {
          const { reason, changed } = replaces
          replaced.set(replaces.certificateSha256, changed ? { reason, changed } : { reason })
        }
        break
      }
      default:
        break
    }
    index++
  })

  let review: ReviewWriter
  try {
    review = await ReviewWriter.open(outputDir, header)
  } catch (error) {
    throw reviewWriteError(error, outputDir)
  }
  let exports: ReviewExports
  try {
    exports = ReviewExports.open({ outputDir, header, ...(options.fleetCaPem === undefined ? {} : { fleetCaPem: options.fleetCaPem }) }, options.exports ?? REVIEW_EXPORTS)
  } catch (error) {
    await review.abandon()
    throw reviewWriteError(error, outputDir)
  }
  const firstDevices: ManifestDevice[] = []
  const supersededReasons: Partial<Record<SupersededReason, number>> = {}
  try {
    const pending = new Map<string, Waiting>()
    const arena = new Arena(() => pending.values())
    const again = new JournalLine(path.join(outputDir, JOURNAL_FILE))
    /** A waiting certificate's fields: read from its copied bytes, else from its parsed record. */
    const issuedOf = (waiting: Waiting): Pending => {
      if (waiting.record) return { index: waiting.index, text: issuedTextOf(waiting.record), record: waiting.record }
      again.reset(waiting.line, arena.bytes, waiting.offset!, waiting.offset! + waiting.length!)
      const text = issuedText(again)
      if (text) return { index: waiting.index, text }
      const record = again.record() as IssuedRecord
      return { index: waiting.index, text: issuedTextOf(record), record }
    }
    const supersede = ({ index, text, record: parsed }: Pending, written: boolean): void => {
      const record = parsed ?? issuedRecordOf(text!)
      const sha256 = record.certificate.sha256
      const why = replaced.get(sha256)
      const reason: SupersededReason =
        index < overwriteFrom
          ? 'overwritten'
          : retired.has(sha256) || !inScope.has(record.serial)
            ? 'not-in-manifest'
            : why
              ? why.reason
              : written
                ? 'output-redone'
                : 'never-written'
      const entry: SupersededCertificate = {
        serial: record.serial,
        deviceId: record.basis.deviceId,
        serialNumber: record.certificate.serialNumber,
        sha256,
        notAfter: record.certificate.notAfter,
        issuedAt: record.at,
        reason,
        ...(reason === 'reissued-changed' && why?.changed ? { changed: why.changed } : {})
      }
      review.supersedeNow(entry)
      exports.superseded(entry, record.certificate.pem)
      supersededReasons[reason] = (supersededReasons[reason] ?? 0) + 1
    }

    // Pass 2: emit active devices in the order they completed; everything else is superseded.
    index = 0
    const wantSan = header.profile.san !== undefined
    const reread = await scanJournal(
      outputDir,
      (line) => {
        const at = index++
        if (line.type === 'issued') {
          const key = issuedKey(line)
          if (key !== undefined) {
            // A copy of the line's bytes (outside the JS heap) until its output shows: objects held
            // that long would be promoted by the garbage collector and pile up.
            pending.set(key, { index: at, line: line.line, ...arena.add(line.bytes, line.start, line.end) })
          } else {
            const record = line.record() as IssuedRecord
            pending.set(record.certificate.sha256, { index: at, line: line.line, record })
          }
        } else if (line.type === 'written') {
          const fast = writtenText(line)
          const { serial, certificateSha256 } = fast ?? (line.record() as WrittenRecord)
          const waiting = pending.get(certificateSha256)
          if (!waiting) return // a duplicate 'written' for a certificate already handled
          pending.delete(certificateSha256)
          const issued = issuedOf(waiting)
          if (pending.size === 0) arena.clear()
          if (wantSan) withSan(issued)
          const isActive = active.is(serial, certificateSha256)
          if (!isActive) {
            supersede(issued, true)
            return
          }
          // Emitted once: a later record of the serial is superseded. (Forgetting it also frees the memory.)
          active.delete(serial)
          const wantEntry = !fast || !issued.text || issued.record !== undefined || firstDevices.length < SUMMARY_MAX_ROWS
          const entry = wantEntry ? deviceEntry(issued.record ?? issuedRecordOf(issued.text!), line.record() as WrittenRecord) : undefined
          if (fast && issued.text && !issued.record) {
            const ascii = issued.text.ascii && fast.ascii
            review.addText(deviceEntryText(issued.text, fast), ascii)
            exports.device(new LineDevice(issued.text, fast, line, entry, ascii))
          } else {
            review.addNow(entry!)
            exports.device(deviceOfEntry(entry!, issued.record?.certificate.pem ?? issued.text!.pem))
          }
          if (entry && firstDevices.length < SUMMARY_MAX_ROWS) firstDevices.push(entry)
        }
      },
      async () => {
        await review.drain()
        await exports.drain()
      },
      // Pass 1 checked every line's checksum; this pass reads the same bytes (checked below).
      { checksums: false }
    )
    if (reread.bytes !== checked.bytes || reread.identity !== checked.identity) {
      throw new OutputError(
        `The journal ${path.join(outputDir, JOURNAL_FILE)} changed while the review was written from it (${checked.bytes} bytes checked, ${reread.bytes} read again): is another process writing into output-dir ${outputDir}? Run again once it is done.`,
        { file: path.join(outputDir, JOURNAL_FILE) }
      )
    }
    for (const waiting of pending.values()) supersede(issuedOf(waiting), false)
    const devices = review.devices
    const supersededCount = review.supersededCount
    // The exports before the manifest: the manifest, written last, says the review is complete.
    const exported = exports.summaries(await exports.commit())
    const revoked = [...revocations.values()]
    const crl: ManifestCrl | undefined = lastCrl && {
      file: CRL_PEM_FILE,
      number: lastCrl.number,
      thisUpdate: lastCrl.thisUpdate,
      nextUpdate: lastCrl.nextUpdate,
      entries: lastCrl.entries,
      sha256: lastCrl.sha256
    }
    const manifest = await review.commit(exported, { revoked, ...(crl ? { crl } : {}) })
    const at = (file: string): string => path.join(outputDir, file)
    return {
      manifest,
      certificates: at(CERTIFICATES_FILE),
      superseded: at(SUPERSEDED_FILE),
      checksums: at(SHA256SUMS_FILE),
      devices,
      supersededCount,
      supersededReasons,
      firstDevices,
      exported,
      revoked,
      ...(crl ? { crl } : {})
    }
  } catch (error) {
    await exports.abandon()
    await review.abandon()
    throw reviewWriteError(error, outputDir)
  }
}

/**
 * A certificate journaled before issued records carried the subjectAltName text (an earlier
 * credbake, resumed now): the text is read from the certificate itself, so the review shows it.
 */
function withSan(issued: Pending): void {
  if (issued.record) {
    const certificate = issued.record.certificate
    if (certificate.san === undefined) {
      const san = sanOfPem(certificate.pem)
      if (san !== undefined) issued.record = { ...issued.record, certificate: { ...certificate, san } }
    }
  }
  if (issued.text && issued.text.san === undefined) {
    const san = sanOfPem(issued.text.pem)
    if (san !== undefined) issued.text.san = JSON.stringify(san)
  }
}

function sanOfPem(pem: string): string | undefined {
  const blocks = readPemBlocks(pem)
  const der = 'problem' in blocks ? undefined : blocks[0]?.der
  if (!der) return undefined
  try {
    return sanOfCertificate(der)
  } catch {
    return undefined // not a certificate credbake can read: verify reports it
  }
}

function reviewWriteError(error: unknown, outputDir: string): unknown {
  if (isCredbakeError(error)) return error
  const code = (error as NodeJS.ErrnoException).code
  return new OutputError(
    `Cannot write the review files (${MANIFEST_FILE}, ${CERTIFICATES_FILE}) into output-dir ${outputDir}${code === 'ENOSPC' ? ': the disk is full' : `: ${messageOf(error)}`}. Every device is recorded in the journal: free space and run again to write it.`,
    { cause: error }
  )
}
