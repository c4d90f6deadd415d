// The journal (output-dir/credbake-journal.jsonl): an append-only, fsync'd record of every
// certificate issued and every output completed. It is the source of truth: a certificate is
// recorded here before its key is written anywhere, so a crash can lose an output but never the
// knowledge that a certificate exists (and may need revoking). The review manifest is built from it.
//
// Format 2: one JSON object per line, each ending in its own checksum,
//   {"type":"issued",…,"sum":"<first 32 hex digits of SHA-256 of the line without the sum field>"}
// The sum covers the exact bytes `{…}` of the record as written, so no re-serialisation is
// involved in checking it. A last line without its newline is a torn append (the process died
// while writing it, before anything depended on it) and is cut off; any other line that does not
// check out stops the run: it may be the only record of a certificate that must be revoked.
// The checksum is unkeyed: it catches damage (a torn or cut copy, a flipped byte, an edit by
// hand), not forgery, since anyone can recompute it. So nothing a record says is trusted to stay
// inside output-dir: every output path is checked where it is read (state.ts), the file is opened
// without following a link, and output-dir itself is a boundary (docs/output-dir-boundary.md).
import { constants, type Stats } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { OutputError, isCredbakeError, messageOf } from '../errors.js'
import { O_NOFOLLOW, plantedLinkError } from '../util/confined.js'
import { writeAll } from '../util/fsx.js'
import { sha256Hex } from '../util/hash.js'
import { JOURNAL_FORMAT, type JournalRecord, type JournalFile } from './records.js'

export const JOURNAL_FILE = 'credbake-journal.jsonl'

const SUM_FIELD = ',"sum":"'
const SUM_DIGITS = 32
/** `,"sum":"` + digits + `"}` */
const SUM_SUFFIX_LENGTH = SUM_FIELD.length + SUM_DIGITS + 2

// sha256Hex is the one-shot crypto.hash where this Node has it (20.12+): no Hash object per line.
function checksum(json: string): string {
  return sha256Hex(json).slice(0, SUM_DIGITS)
}

/** One record as a journal line, newline included. */
export function encodeRecord(record: JournalRecord): string {
  const json = JSON.stringify(record)
  return `${json.slice(0, -1)}${SUM_FIELD}${checksum(json)}"}\n`
}

/** A journal line that cannot be trusted: the run must stop. */
export class JournalDamageError extends OutputError {
  constructor(
    readonly journal: string,
    readonly lineNumber: number,
    problem: string
  ) {
    super(
      `The journal ${journal} is damaged at line ${lineNumber}: ${problem}. credbake never skips a journal record: it may be the only record of a certificate whose key was written and that must be revoked. ` +
        `Restore the journal from a copy (for example the job's artifact) and run again; or move this output-dir aside, bake into a new one, and revoke every certificate of the old one's certificates.pem and superseded.pem (the damaged line's certificate may be in neither).`,
      { file: journal, line: lineNumber }
    )
  }
}

export class Journal {
  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    /** Bytes known to hold whole records; a failed append is cut back to this. */
    private size: number
  ) {}

  /**
   * Open for appending. A torn last line (the process died mid-append) is cut off first, so the
   * next record starts on a line of its own.
   */
  static async open(outputDir: string): Promise<Journal> {
    const file = path.join(outputDir, JOURNAL_FILE)
    try {
      // Never through a link (ELOOP), dangling or not: a planted one would have credbake truncate
      // and fill a file elsewhere.
      const handle = await open(file, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK | O_NOFOLLOW, 0o644)
      try {
        const { size } = await checkJournalFile(file, handle)
        await handle.chmod(0o644)
        const whole = await wholeRecordsEnd(handle, size)
        if (whole < size) {
          await handle.truncate(whole)
          await handle.datasync()
        }
        return new Journal(file, handle, whole)
      } catch (error) {
        await handle.close().catch(() => undefined)
        throw error
      }
    } catch (error) {
      throw journalOpenError(file, error)
    }
  }

  /** Append records and make them durable (fsync) before returning. */
  async append(...records: JournalRecord[]): Promise<void> {
    await this.write(records)
    await this.sync()
  }

  /**
   * Append records without waiting for the disk: for records whose loss only means redoing work
   * (a completed output is re-verified or redone on resume); `sync` makes them durable.
   */
  async appendLazily(...records: JournalRecord[]): Promise<void> {
    await this.write(records)
  }

  /**
   * Append lines already made by `encodeRecord` (issuance workers encode their devices' records
   * off the main thread). Not durable until `sync`.
   */
  async appendEncoded(lines: readonly string[]): Promise<void> {
    await this.writeText(lines.join(''))
  }

  async sync(): Promise<void> {
    try {
      await this.handle.datasync()
    } catch (error) {
      throw this.failure(error)
    }
  }

  /** Appends run one after another, even when callers overlap (concurrent device writes). */
  private queue: Promise<void> = Promise.resolve()

  private write(records: JournalRecord[]): Promise<void> {
    return this.writeText(records.map(encodeRecord).join(''))
  }

  private writeText(text: string): Promise<void> {
    const next = this.queue.then(() => this.writeNow(text))
    this.queue = next.catch(() => undefined)
    return next
  }

  private async writeNow(text: string): Promise<void> {
    const bytes = Buffer.from(text, 'utf8')
    try {
      await writeAll(this.handle, bytes)
      this.size += bytes.length
    } catch (error) {
      // Never leave half a record: cut the file back to its last whole one.
      await this.handle.truncate(this.size).catch(() => undefined)
      throw this.failure(error)
    }
  }

  private failure(error: unknown): OutputError {
    const code = (error as NodeJS.ErrnoException).code
    return new OutputError(`Cannot append to the journal ${this.file}${code === 'ENOSPC' ? ': the disk holding output-dir is full (ENOSPC)' : `: ${messageOf(error)}`}.`, {
      cause: error
    })
  }

  private closed = false

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.handle.close()
  }
}

/**
 * The journal is appended to and cut back in place, so it must be a regular file of its own: not
 * a FIFO or a device, and not hard-linked to another name (which would receive the same writes).
 */
async function checkJournalFile(file: string, handle: FileHandle): Promise<Stats> {
  const info = await handle.stat()
  if (!info.isFile()) throw new OutputError(`The journal ${file} is not a regular file; move it aside, or use a new output-dir.`, { file })
  if (info.nlink > 1) {
    throw new OutputError(
      `The journal ${file} has ${info.nlink} hard links: credbake appends to it and cuts a torn last line off in place, which would change the other names too. Give it a name of its own (cp ${JOURNAL_FILE} copy && mv copy ${JOURNAL_FILE}) and run again.`,
      { file }
    )
  }
  return info
}

function journalOpenError(file: string, error: unknown, reading = false): OutputError {
  if (isCredbakeError(error)) return error as OutputError
  if ((error as NodeJS.ErrnoException).code === 'ELOOP') return plantedLinkError(file)
  return new OutputError(`Cannot ${reading ? 'read' : 'open'} the journal ${file}: ${messageOf(error)}.`, { cause: error })
}

/** Offset just after the last newline (0 when there is none): where whole records end. */
async function wholeRecordsEnd(handle: FileHandle, size: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024)
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - chunk.length)
    const { bytesRead } = await handle.read(chunk, 0, end - start, start)
    const newline = chunk.subarray(0, bytesRead).lastIndexOf(0x0a)
    if (newline >= 0) return start + newline + 1
    end = start
  }
  return 0
}

export interface JournalEntry {
  record: JournalRecord
  /** 1-based line number in the journal file. */
  line: number
}

export type JournalRecordType = JournalRecord['type']

const RECORD_TYPES: readonly string[] = ['run', 'issued', 'written', 'retired', 'complete', 'revoked', 'crl']

/** `{"type":"issued",` and so on: how a line encoded by `encodeRecord` starts, per type. */
const TYPE_PREFIXES = new Map<number, { type: JournalRecordType; prefix: Buffer }[]>()
for (const type of RECORD_TYPES as JournalRecordType[]) {
  const prefix = Buffer.from(`{"type":"${type}",`)
  const key = prefix[9]!
  TYPE_PREFIXES.set(key, [...(TYPE_PREFIXES.get(key) ?? []), { type, prefix }])
}
const SUM_FIELD_BYTES = Buffer.from(SUM_FIELD)

const EMPTY = Buffer.alloc(0)

/** Whether `bytes` holds `text` at `at` (a loop: Buffer#compare on ranges costs more for a few bytes). */
function bytesAt(bytes: Buffer, at: number, text: Buffer): boolean {
  if (at + text.length > bytes.length) return false
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text[i]) return false
  return true
}

/**
 * One checked line of a journal, as `scanJournal` hands it to its visitor. Valid only during that
 * call: `bytes` is the reader's buffer, reused for the next chunk; the object itself is reused too.
 * For a format-2 line, bytes[start, end) is the record's JSON without its checksum field (the
 * exact bytes the checksum covers), so fields can be read without parsing the whole record.
 */
export class JournalLine {
  line = 0
  type: JournalRecordType = 'run'
  bytes: Buffer = EMPTY
  start = 0
  end = 0
  /** A format-1 record, converted to format 2 (its fields are not in `bytes`). */
  converted: JournalRecord | undefined
  private parsed: JournalRecord | undefined

  constructor(readonly file: string) {}

  /** @internal */
  reset(line: number, bytes: Buffer, start: number, end: number): void {
    this.line = line
    this.bytes = bytes
    this.start = start
    this.end = end
    this.converted = undefined
    this.parsed = undefined
  }

  /** The whole record (parsed on first call). */
  record(): JournalRecord {
    if (this.converted) return this.converted
    if (!this.parsed) this.parsed = parseRecord(this.file, this.bytes.toString('utf8', this.start, this.end), this.line)
    return this.parsed
  }

  /** Whether the record's JSON holds these bytes (false for a converted format-1 record). */
  includes(text: Buffer): boolean {
    return !this.converted && this.bytes.subarray(this.start, this.end).includes(text)
  }

  damage(problem: string): JournalDamageError {
    return new JournalDamageError(this.file, this.line, problem)
  }
}

/** A record's JSON (its checksum already checked): parsed, its type and format checked. */
function parseRecord(file: string, json: string, line: number): JournalRecord {
  let record: JournalRecord
  try {
    record = JSON.parse(json) as JournalRecord
  } catch {
    throw new JournalDamageError(file, line, 'the line is not JSON')
  }
  if (!record || typeof record !== 'object' || !RECORD_TYPES.includes(record.type)) {
    throw new JournalDamageError(file, line, 'the record type is unknown')
  }
  if (record.type === 'run' && record.format !== JOURNAL_FORMAT) {
    throw new JournalDamageError(
      file,
      line,
      `it was written in journal format ${String(record.format)}, which this credbake (format ${JOURNAL_FORMAT}) does not read; use the credbake version that wrote it`
    )
  }
  return record
}

/**
 * Checks the lines of a journal one after another (line numbers, format 1 or 2, checksums) and
 * hands each record's line to a visitor. Synchronous per chunk: no promise or string per line.
 */
class LineChecker {
  private lineNumber = 0
  get lineCount(): number {
    return this.lineNumber
  }
  private legacy: boolean | undefined
  /** A format-1 line that did not parse: acceptable only if a run record follows. */
  private tornLegacyLine: number | undefined
  private readonly view: JournalLine

  constructor(
    readonly file: string,
    private readonly checksums = true
  ) {
    this.view = new JournalLine(file)
  }

  /** Every line of bytes[0, end), which holds whole lines (each ending in a newline). */
  lines(bytes: Buffer, end: number, visit: (line: JournalLine) => void): void {
    const view = this.view
    for (let start = 0; start < end; ) {
      const newline = bytes.indexOf(0x0a, start)
      const line = ++this.lineNumber
      view.reset(line, bytes, start, newline)
      if (this.legacy === false) this.checked(view)
      else if (!this.legacyLine(view)) {
        start = newline + 1
        continue
      }
      visit(view)
      start = newline + 1
    }
  }

  /**
   * A format-2 line: its checksum checked in place (the byte where the sum field starts is set to
   * `}` so that the checksummed JSON is one slice of the buffer), its type told from its start.
   */
  private checked(view: JournalLine): void {
    const { bytes, start, end: lineEnd } = view
    if (lineEnd === start) throw view.damage('the line is empty')
    const at = lineEnd - SUM_SUFFIX_LENGTH
    if (at <= start || bytes[lineEnd - 1] !== 0x7d || bytes[lineEnd - 2] !== 0x22 || !bytesAt(bytes, at, SUM_FIELD_BYTES)) {
      throw view.damage('the line has no checksum')
    }
    bytes[at] = 0x7d
    if (this.checksums) {
      const digest = sha256Hex(bytes.subarray(start, at + 1))
      const sum = at + SUM_FIELD.length
      for (let i = 0; i < SUM_DIGITS; i++) {
        if (digest.charCodeAt(i) !== bytes[sum + i]) throw view.damage('its checksum does not match its content')
      }
    }
    view.end = at + 1
    const candidates = TYPE_PREFIXES.get(bytes[start + 9]!)
    const known = candidates?.find(({ prefix }) => bytesAt(bytes, start, prefix))
    // Run records are rare and checked in full; anything not laid out as encodeRecord writes is parsed.
    view.type = known && known.type !== 'run' ? known.type : view.record().type
  }

  /** Format 1, until the first run record of format 2. False: nothing to visit on this line. */
  private legacyLine(view: JournalLine): boolean {
    const text = view.bytes.toString('utf8', view.start, view.end)
    const line = view.line
    if (text === '') {
      if (this.legacy) return false // format 1 wrote a lone newline after a torn line
      throw view.damage('the line is empty')
    }
    if (this.legacy === undefined) {
      this.legacy = !text.endsWith('"}') || text.lastIndexOf(SUM_FIELD) !== text.length - SUM_SUFFIX_LENGTH
      if (!this.legacy) {
        this.checked(view)
        return true
      }
    }
    let parsed: Record<string, unknown> | undefined
    try {
      parsed = JSON.parse(text) as Record<string, unknown>
    } catch {
      parsed = undefined
    }
    if (parsed && typeof parsed === 'object' && 'sum' in parsed) {
      this.checked(view)
      if (view.type !== 'run') throw view.damage('a format-2 record follows format-1 records without a run record')
      this.tornLegacyLine = undefined
      this.legacy = false
      return true
    }
    if (!parsed || typeof parsed.type !== 'string') {
      if (this.tornLegacyLine !== undefined) throw new JournalDamageError(this.file, this.tornLegacyLine, 'the line is not a whole record')
      this.tornLegacyLine = line
      return false
    }
    if (this.tornLegacyLine !== undefined && parsed.type !== 'run') throw new JournalDamageError(this.file, this.tornLegacyLine, 'the line is not a whole record')
    this.tornLegacyLine = undefined
    const record = fromFormat1(parsed)
    if (!record) throw view.damage(`the record type "${String(parsed.type)}" is unknown`)
    view.converted = record
    view.type = record.type
    return true
  }
}

/** Bytes read from the journal at a time; a longer line grows the buffer. */
const CHUNK = 4 << 20

/**
 * The journal's bytes in big chunks, each cut after its last newline: bytes[0, end) holds whole
 * lines. The buffer is reused for the next chunk (the consumer must be done with it by then). A
 * last piece without a newline is a torn append and is never yielded.
 */
async function* journalChunks(file: string, result?: ScanResult): AsyncGenerator<{ bytes: Buffer; end: number }> {
  let handle: FileHandle
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | O_NOFOLLOW)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw journalOpenError(file, error, true)
  }
  try {
    await checkJournalFile(file, handle)
  } catch (error) {
    await handle.close().catch(() => undefined)
    throw journalOpenError(file, error, true)
  }
  const identity = async (): Promise<string> => {
    const stat = await handle.stat({ bigint: true })
    return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}`
  }
  try {
    const opened = await identity()
    if (result) result.identity = opened
    let bytes = Buffer.allocUnsafe(CHUNK)
    let filled = 0
    let position = 0
    for (;;) {
      if (filled === bytes.length) {
        const bigger = Buffer.allocUnsafe(bytes.length * 2)
        bytes.copy(bigger, 0, 0, filled)
        bytes = bigger
      }
      let bytesRead: number
      try {
        ;({ bytesRead } = await handle.read(bytes, filled, bytes.length - filled, position))
      } catch (error) {
        throw new OutputError(`Cannot read the journal ${file}: ${messageOf(error)}.`, { cause: error })
      }
      if (bytesRead === 0) {
        // Changed while being read: the two readings of the review then differ.
        if (result && (await identity()) !== opened) result.identity = `${opened} changed`
        return
      }
      position += bytesRead
      const scanned = filled
      filled += bytesRead
      // The carried-over part holds no newline: look only at what was just read.
      const last = bytes.lastIndexOf(0x0a, filled - 1)
      if (last < scanned) continue // no whole line yet
      yield { bytes, end: last + 1 }
      bytes.copy(bytes, 0, last + 1, filled)
      filled -= last + 1
    }
  } finally {
    await handle.close().catch(() => undefined)
  }
}

/**
 * Every line of a journal, in order, each checked, handed to `visit` (synchronously, the line
 * object valid during the call only); `afterChunk` runs between chunks of some megabytes (for
 * writing out what the visitor buffered). A torn last line is not visited (its record was never
 * acknowledged). Any other damage throws JournalDamageError naming the line. Journals of format 1
 * (no checksums) are read and converted; a torn line inside them is accepted only where format 1
 * left one: right before a new run began.
 */
export async function scanJournal(outputDir: string, visit: (line: JournalLine) => void, afterChunk?: () => Promise<void>, options: ScanOptions = {}): Promise<ScanResult> {
  const file = path.join(outputDir, JOURNAL_FILE)
  const checker = new LineChecker(file, options.checksums ?? true)
  const result: ScanResult = { bytes: 0, lines: 0, identity: '' }
  for await (const chunk of journalChunks(file, result)) {
    checker.lines(chunk.bytes, chunk.end, visit)
    result.bytes += chunk.end
    if (afterChunk) await afterChunk()
  }
  // A torn format-1 line at the very end is the same as a torn last line: never acknowledged.
  result.lines = checker.lineCount
  return result
}

export interface ScanOptions {
  /**
   * False: do not check the lines' checksums (everything else is checked). Only for a second
   * reading of bytes already checked, whose ScanResult (bytes, identity) must then be compared.
   */
  checksums?: boolean
}

export interface ScanResult {
  /** Bytes of whole lines read. */
  bytes: number
  lines: number
  /** The file as it was opened and closed (device, inode, size, modification time), to tell whether it changed between two readings. */
  identity: string
}

/** Every record of a journal, in order, each checked and parsed (see scanJournal). */
export async function* readJournal(outputDir: string): AsyncGenerator<JournalEntry> {
  const file = path.join(outputDir, JOURNAL_FILE)
  const checker = new LineChecker(file)
  for await (const { bytes, end } of journalChunks(file)) {
    const entries: JournalEntry[] = []
    checker.lines(bytes, end, (line) => entries.push({ record: line.record(), line: line.line }))
    yield* entries
  }
}

// ---- format 1 (credbake 0.1: no checksums, the review's device entry stored in `written`) ----

/**
 * A format-1 record in format-2 shape. What format 1 did not record (the per-device basis, the
 * shard) is left empty, so no device of a format-1 journal is ever resumed: each is issued anew
 * and its old certificate listed as superseded.
 */
function fromFormat1(old: Record<string, any>): JournalRecord | undefined {
  switch (old.type) {
    case 'run':
      return {
        type: 'run',
        run: String(old.run),
        at: String(old.at),
        version: String(old.version ?? '0.1.0'),
        format: JOURNAL_FORMAT,
        identity: {
          fleetCaSha256: String(old.identity?.fleetCaSha256 ?? ''),
          format: String(old.identity?.format ?? ''),
          compress: String(old.identity?.compress ?? ''),
          imageSha256: old.identity?.imageSha256 ?? null,
          partition: old.identity?.partition ?? null,
          shard: ''
        },
        basis: { keyType: '', lifetime: '', profileSha256: '', layout: '', credentialsDir: '', serverCaSha256: null, gatewayUrl: null },
        overwrite: Boolean(old.overwrite)
      }
    case 'issued':
      return {
        type: 'issued',
        run: String(old.run),
        at: String(old.at),
        serial: String(old.serial),
        basis: { deviceId: String(old.deviceId), subject: '', sanSha256: null, csrSha256: null },
        certificate: {
          serialNumber: String(old.certificate?.serialNumber),
          sha256: String(old.certificate?.sha256),
          subject: '',
          publicKeySha256: '',
          notBefore: '',
          notAfter: String(old.certificate?.notAfter),
          keySource: 'generated',
          pem: String(old.certificate?.pem)
        }
      }
    case 'written': {
      const entry = old.entry ?? {}
      return {
        type: 'written',
        run: String(old.run),
        at: String(old.at),
        serial: String(old.serial),
        certificateSha256: String(old.certificateSha256),
        output: entry.output ?? { path: '', size: 0, sha256: '' },
        files: ((entry.files ?? []) as Array<Record<string, any>>).map(
          (file): JournalFile => ({
            path: String(file.path),
            mode: file.mode ?? null,
            owner: file.owner ?? null,
            sha256: file.sha256 ?? null,
            size: Number(file.size ?? 0),
            secret: Boolean(file.privateKey)
          })
        )
      }
    }
    case 'complete':
      return { type: 'complete', run: String(old.run), at: String(old.at), devices: Number(old.devices) }
    default:
      return undefined
  }
}
