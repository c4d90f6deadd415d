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
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { OutputError, messageOf } from '../errors.js'
import { writeAll } from '../util/fsx.js'
import { JOURNAL_FORMAT, type JournalRecord, type JournalFile } from './records.js'

export const JOURNAL_FILE = 'credbake-journal.jsonl'

const SUM_FIELD = ',"sum":"'
const SUM_DIGITS = 32
/** `,"sum":"` + digits + `"}` */
const SUM_SUFFIX_LENGTH = SUM_FIELD.length + SUM_DIGITS + 2

function checksum(json: string): string {
  return createHash('sha256').update(json).digest('hex').slice(0, SUM_DIGITS)
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
      const handle = await open(file, 'a+', 0o644)
      try {
        await handle.chmod(0o644)
        const { size } = await handle.stat()
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
      throw new OutputError(`Cannot open the journal ${file}: ${messageOf(error)}.`, { cause: error })
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
    return new OutputError(
      `Cannot append to the journal ${this.file}${code === 'ENOSPC' ? ': the disk holding output-dir is full (ENOSPC)' : `: ${messageOf(error)}`}.`,
      { cause: error }
    )
  }

  private closed = false

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.handle.close()
  }
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

/**
 * Every record of a journal, in order, each checked. A torn last line is not yielded (its record
 * was never acknowledged). Any other damage throws JournalDamageError naming the line. Journals
 * of format 1 (no checksums) are read and converted; a torn line inside them is accepted only
 * where format 1 left one: right before a new run began.
 */
export async function* readJournal(outputDir: string): AsyncGenerator<JournalEntry> {
  const file = path.join(outputDir, JOURNAL_FILE)
  let legacy: boolean | undefined
  /** A format-1 line that did not parse: acceptable only if a run record follows. */
  let tornLegacyLine: number | undefined
  for await (const { text, line } of journalLines(file)) {
    if (text === '') {
      if (legacy) continue // format 1 wrote a lone newline after a torn line
      throw new JournalDamageError(file, line, 'the line is empty')
    }
    if (legacy === undefined) legacy = !text.endsWith('"}') || text.lastIndexOf(SUM_FIELD) !== text.length - SUM_SUFFIX_LENGTH
    if (!legacy) {
      yield { record: decodeChecked(file, text, line), line }
      continue
    }
    // Format 1, until the first run record of format 2.
    let parsed: Record<string, unknown> | undefined
    try {
      parsed = JSON.parse(text) as Record<string, unknown>
    } catch {
      parsed = undefined
    }
    if (parsed && typeof parsed === 'object' && 'sum' in parsed) {
      const record = decodeChecked(file, text, line)
      if (record.type !== 'run') throw new JournalDamageError(file, line, 'a format-2 record follows format-1 records without a run record')
      tornLegacyLine = undefined
      legacy = false
      yield { record, line }
      continue
    }
    if (!parsed || typeof parsed.type !== 'string') {
      if (tornLegacyLine !== undefined) throw new JournalDamageError(file, tornLegacyLine, 'the line is not a whole record')
      tornLegacyLine = line
      continue
    }
    if (tornLegacyLine !== undefined && parsed.type !== 'run') throw new JournalDamageError(file, tornLegacyLine, 'the line is not a whole record')
    tornLegacyLine = undefined
    const record = fromFormat1(parsed)
    if (!record) throw new JournalDamageError(file, line, `the record type "${String(parsed.type)}" is unknown`)
    yield { record, line }
  }
  // A torn format-1 line at the very end is the same as a torn last line: never acknowledged.
}

function decodeChecked(file: string, text: string, line: number): JournalRecord {
  const at = text.length - SUM_SUFFIX_LENGTH
  if (at <= 0 || !text.endsWith('"}') || text.slice(at, at + SUM_FIELD.length) !== SUM_FIELD) {
    throw new JournalDamageError(file, line, 'the line has no checksum')
  }
  const json = `${text.slice(0, at)}}`
  const sum = text.slice(at + SUM_FIELD.length, at + SUM_FIELD.length + SUM_DIGITS)
  if (checksum(json) !== sum) throw new JournalDamageError(file, line, 'its checksum does not match its content')
  let record: JournalRecord
  try {
    record = JSON.parse(json) as JournalRecord
  } catch {
    throw new JournalDamageError(file, line, 'the line is not JSON')
  }
  if (!record || typeof record !== 'object' || !['run', 'issued', 'written', 'retired', 'complete'].includes(record.type)) {
    throw new JournalDamageError(file, line, 'the record type is unknown')
  }
  if (record.type === 'run' && record.format !== JOURNAL_FORMAT) {
    throw new JournalDamageError(file, line, `it was written in journal format ${String(record.format)}, which this credbake (format ${JOURNAL_FORMAT}) does not read; use the credbake version that wrote it`)
  }
  return record
}

/**
 * Lines of the file as UTF-8 text without their newline, with 1-based numbers. The last piece is
 * yielded only when it ends with a newline: a piece without one is a torn append.
 */
async function* journalLines(file: string): AsyncGenerator<{ text: string; line: number }> {
  let stream
  try {
    stream = createReadStream(file, { highWaterMark: 1 << 20 })
    await new Promise<void>((resolve, reject) => {
      stream!.once('open', () => resolve())
      stream!.once('error', reject)
    })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw new OutputError(`Cannot read the journal ${file}: ${messageOf(error)}.`, { cause: error })
  }
  let carry: Buffer = Buffer.alloc(0)
  let line = 0
  for await (const chunk of stream) {
    const data = carry.length ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer)
    let start = 0
    for (let newline = data.indexOf(0x0a, start); newline >= 0; newline = data.indexOf(0x0a, start)) {
      yield { text: data.toString('utf8', start, newline), line: ++line }
      start = newline + 1
    }
    carry = data.subarray(start)
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
