// The journal (output-dir/credbake-journal.jsonl): an append-only, fsync'd record of every
// certificate issued and every output completed. It is the source of truth: a certificate is
// recorded here before its key is written anywhere, so a crash can lose an output but never the
// knowledge that a certificate exists (and may need revoking). The review manifest is built from it.
import { createReadStream } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { OutputError, messageOf } from '../errors.js'
import { writeAll } from '../util/fsx.js'
import type { ManifestDevice } from '../review/types.js'

export const JOURNAL_FILE = 'credbake-journal.jsonl'

/** What must be equal for a run to resume another's outputs. */
export interface RunIdentity {
  fleetCaSha256: string
  format: string
  compress: string
  layout: string
  credentialsDir: string
  keyType: string
  subject: string
  san: string | null
  /** SHA-256 of the base image (image and partition formats), else null. */
  imageSha256: string | null
  partition: string | null
  serverCaSha256: string | null
  gatewayUrl: string | null
}

export type JournalRecord =
  | { type: 'run'; run: string; at: string; version: string; identity: RunIdentity; overwrite: boolean }
  | {
      type: 'issued'
      run: string
      at: string
      serial: string
      deviceId: string
      certificate: { serialNumber: string; sha256: string; notAfter: string; pem: string }
    }
  | { type: 'written'; run: string; at: string; serial: string; certificateSha256: string; entry: ManifestDevice }
  | { type: 'complete'; run: string; at: string; devices: number }

export class Journal {
  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    /** Bytes known to hold whole records; a failed append is cut back to this. */
    private size: number
  ) {}

  static async open(outputDir: string): Promise<Journal> {
    const file = path.join(outputDir, JOURNAL_FILE)
    try {
      const handle = await open(file, 'a+', 0o644)
      // A run killed mid-append leaves a line without its newline; end it, so the next record
      // starts on a line of its own and only the torn one is lost.
      let { size } = await handle.stat()
      if (size > 0) {
        const last = Buffer.alloc(1)
        await handle.read(last, 0, 1, size - 1)
        if (last[0] !== 0x0a) {
          await handle.write('\n')
          size++
        }
      }
      return new Journal(file, handle, size)
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
    const next = this.queue.then(() => this.writeNow(records))
    this.queue = next.catch(() => undefined)
    return next
  }

  private async writeNow(records: JournalRecord[]): Promise<void> {
    const bytes = Buffer.from(records.map((record) => `${JSON.stringify(record)}\n`).join(''), 'utf8')
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

  async close(): Promise<void> {
    await this.handle.close()
  }
}

/**
 * Every record of a journal, in order. A torn last line (the process died mid-append) is
 * skipped: its record was never acknowledged, so nothing after it depended on it.
 */
export async function* readJournal(outputDir: string): AsyncGenerator<JournalRecord> {
  const file = path.join(outputDir, JOURNAL_FILE)
  let stream
  try {
    stream = createReadStream(file, { encoding: 'utf8' })
    await new Promise<void>((resolve, reject) => {
      stream!.once('open', () => resolve())
      stream!.once('error', reject)
    })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  const lines = createInterface({ input: stream, crlfDelay: Infinity })
  for await (const line of lines) {
    if (line.trim() === '') continue
    let record: JournalRecord
    try {
      record = JSON.parse(line) as JournalRecord
    } catch {
      continue
    }
    yield record
  }
}
