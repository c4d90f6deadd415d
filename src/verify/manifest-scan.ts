// Reading a review manifest without holding it: a 100,000-device credbake-manifest.json is over
// 100 MB of JSON, and JSON.parse of the whole file would take several times that in memory. One
// pass over the bytes (read in chunks) finds the structure of the top-level object: every member
// but the `devices` and `superseded` arrays is kept as its parsed value (the header and the footer
// are small), and of those two arrays only where each element starts and ends in the file. The
// elements are read back and parsed one batch at a time (readEntries), by whoever checks them.
// Why a scanner of its own: verify must check 100,000 devices in at most 256 MiB (it peaks at
// 175 MiB in bench:memory), and the JSON it reads is credbake's own layout; a general streaming
// parser would tokenise every value of the 100 MB on the main thread, while this scan only finds
// where each element starts and ends and lets the worker threads parse them.
//
// The scan checks the syntax of the top level and of the arrays' separators; each member and each
// element is checked by JSON.parse when it is parsed. Key order does not matter (a manifest
// reformatted with `jq -S` reads the same), a key given twice is refused (JSON leaves its meaning
// open, and a reviewer could be shown one value while verify checks the other).
import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { InputError, ManifestError, messageOf } from '../errors.js'
import { checkBoundedFileSync, INPUT_LIMITS, type ReadLimit } from '../util/bounded-read.js'

const CHUNK = 1 << 20
/** A header member or one array element larger than this is not something credbake writes. */
export const MAX_PIECE_BYTES = 16 << 20

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const COLON = 0x3a
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09

/** Where each element of a top-level array is in the file: [start, end) byte offsets. */
export class EntryRanges {
  private starts = new Float64Array(1024)
  private ends = new Float64Array(1024)
  length = 0

  push(start: number, end: number): void {
    if (this.length === this.starts.length) {
      const starts = new Float64Array(this.length * 2)
      const ends = new Float64Array(this.length * 2)
      starts.set(this.starts)
      ends.set(this.ends)
      this.starts = starts
      this.ends = ends
    }
    this.starts[this.length] = start
    this.ends[this.length] = end
    this.length++
  }

  start(index: number): number {
    return this.starts[index] as number
  }

  end(index: number): number {
    return this.ends[index] as number
  }
}

export interface ManifestScan {
  file: string
  bytes: number
  /** Every top-level member but the two arrays below, parsed. */
  members: Record<string, unknown>
  /** Absent when the manifest has no `devices` array (the schema check then says so). */
  devices?: EntryRanges
  superseded?: EntryRanges
}

/** Elements of the arrays indexed rather than parsed. */
const INDEXED = new Set(['devices', 'superseded'])

// biome-ignore lint/suspicious/noConstEnum: the scanner's hot loop compares states; tsc inlines a const enum's values
const enum State {
  Before,
  Key,
  Colon,
  ValueStart,
  Value,
  ElementStart,
  Element,
  AfterValue,
  End
}

/** Bytes of one member value or key, gathered across chunks. */
class Collector {
  private pieces: Buffer[] = []
  private size = 0
  active = false
  /** Where collecting began in the current chunk. */
  from = 0

  begin(at: number): void {
    this.pieces = []
    this.size = 0
    this.active = true
    this.from = at
  }

  /** The chunk ends while collecting: keep its part. */
  carry(chunk: Buffer, what: () => string): void {
    if (!this.active) return
    this.add(chunk.subarray(this.from), what)
    this.from = 0
  }

  finish(chunk: Buffer, at: number, what: () => string): Buffer {
    this.add(chunk.subarray(this.from, at), what)
    this.active = false
    const bytes = this.pieces.length === 1 ? (this.pieces[0] as Buffer) : Buffer.concat(this.pieces)
    this.pieces = []
    return bytes
  }

  private add(bytes: Buffer, what: () => string): void {
    this.size += bytes.length
    if (this.size > MAX_PIECE_BYTES) throw new ManifestError(`${what()} is larger than ${MAX_PIECE_BYTES >> 20} MiB: not a manifest credbake writes`)
    this.pieces.push(Buffer.from(bytes))
  }
}

/** One pass over the manifest (see the file comment). InputError when unreadable, ManifestError when malformed. */
export async function scanManifest(file: string, chunkSize = CHUNK): Promise<ManifestScan> {
  const handle = await openReviewManifest(file)
  try {
    const scanner = new Scanner(file)
    const chunk = Buffer.allocUnsafe(chunkSize)
    let position = 0
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunkSize, position).catch((error: unknown) => {
        throw unreadable(file, error)
      })
      if (bytesRead === 0) break
      scanner.feed(chunk.subarray(0, bytesRead), position)
      position += bytesRead
    }
    return scanner.finish(position)
  } finally {
    await handle.close()
  }
}

function unreadable(file: string, error: unknown): InputError {
  const code = (error as NodeJS.ErrnoException).code
  const why = code === 'ENOENT' ? 'it does not exist' : code === 'EISDIR' ? 'it is a folder (give the credbake-manifest.json in it)' : messageOf(error)
  return new InputError(`manifest ${file} cannot be read: ${why}`, { input: 'manifest', file })
}

const REVIEW_MANIFEST: ReadLimit = { maxBytes: INPUT_LIMITS.reviewFile, what: 'a review manifest' }

/**
 * The review manifest, opened for reading only if it is a regular file within the review files'
 * budget (docs/input-limits.md): a FIFO is opened without waiting for a writer and refused, as is
 * a device. It is read in chunks, never whole, but its size still bounds how long verify takes.
 */
export async function openReviewManifest(file: string): Promise<FileHandle> {
  try {
    checkBoundedFileSync(file, REVIEW_MANIFEST)
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK)
    const info = await handle.stat()
    if (!info.isFile() || info.size > REVIEW_MANIFEST.maxBytes) {
      await handle.close()
      checkBoundedFileSync(file, REVIEW_MANIFEST) // it changed in between: say what it is now
      throw new Error('it changed while it was opened')
    }
    return handle
  } catch (error) {
    throw unreadable(file, error)
  }
}

class Scanner {
  private state = State.Before
  private depth = 0
  private inString = false
  /** Bytes to skip at the start of the next chunk (an escape cut by the chunk's end). */
  private skip = 0
  private key = ''
  private readonly seen = new Set<string>()
  private readonly members: Record<string, unknown> = {}
  private ranges: EntryRanges | undefined
  private readonly arrays: Partial<Record<'devices' | 'superseded', EntryRanges>> = {}
  private readonly collector = new Collector()
  private elementStart = 0
  /** Offset just past the last byte that was not whitespace. */
  private lastSolid = 0

  constructor(private readonly file: string) {}

  feed(chunk: Buffer, base: number): void {
    const length = chunk.length
    let i = Math.min(this.skip, length)
    this.skip -= i
    while (i < length) {
      if (!this.inString && this.state === State.Element) {
        i = this.scanElements(chunk, i, base)
        continue
      }
      if (this.inString) {
        // The string's bytes: only a quote or a backslash matters.
        while (i < length) {
          const c = chunk[i] as number
          if (c === QUOTE) break
          i += c === BACKSLASH ? 2 : 1
        }
        if (i >= length) {
          this.skip = i - length
          break
        }
        this.inString = false
        i++
        this.lastSolid = base + i
        if (this.state === State.Key) this.endKey(chunk, i)
        continue
      }
      const c = chunk[i] as number
      if (isSpace(c)) {
        i++
        continue
      }
      switch (this.state) {
        case State.Before:
          if (c !== OPEN_OBJECT) this.fail(base + i, 'it does not start with "{"')
          this.state = State.Key
          this.depth = 1
          break
        case State.Key:
          if (c === CLOSE_OBJECT && this.seen.size === 0) {
            this.state = State.End
            this.depth = 0
          } else if (c === QUOTE) {
            this.inString = true
            this.collector.begin(i)
          } else this.fail(base + i, 'a member name (a string in double quotes) was expected')
          break
        case State.Colon:
          if (c !== COLON) this.fail(base + i, `":" was expected after "${this.key}"`)
          this.state = State.ValueStart
          break
        case State.ValueStart:
          if (c === OPEN_ARRAY && INDEXED.has(this.key)) {
            this.ranges = new EntryRanges()
            this.arrays[this.key as 'devices' | 'superseded'] = this.ranges
            this.depth = 2
            this.state = State.ElementStart
            break
          }
          this.collector.begin(i)
          this.state = State.Value
          this.value(c, chunk, i, base)
          break
        case State.Value:
          this.value(c, chunk, i, base)
          break
        case State.ElementStart:
          if (c === CLOSE_ARRAY && this.ranges?.length === 0) {
            this.depth = 1
            this.state = State.AfterValue
            break
          }
          if (c === COMMA || c === CLOSE_ARRAY) this.fail(base + i, `an element of "${this.key}" was expected`)
          this.elementStart = base + i
          this.state = State.Element
          this.element(c)
          break
        case State.Element:
          this.element(c)
          break
        case State.AfterValue:
          if (c === COMMA) this.state = State.Key
          else if (c === CLOSE_OBJECT) {
            this.state = State.End
            this.depth = 0
          } else this.fail(base + i, '"," or "}" was expected after a member')
          break
        case State.End:
          this.fail(base + i, 'something follows the closing "}"')
      }
      if (c === QUOTE) this.inString = true
      i++
      this.lastSolid = base + i
    }
    this.collector.carry(chunk, () => this.what())
  }

  /**
   * The bytes of array elements, in one tight loop (nearly all of a manifest is in its devices
   * array): strings are skipped, brackets counted, and each element's end noted at the "," or "]"
   * after it. Returns where it stopped: the chunk's end, inside a string cut by it, or the array's end.
   */
  private scanElements(chunk: Buffer, from: number, base: number): number {
    const length = chunk.length
    let depth = this.depth
    let solid = this.lastSolid
    let i = from
    while (i < length) {
      const c = chunk[i] as number
      if (c === QUOTE) {
        i++
        while (i < length) {
          const d = chunk[i] as number
          if (d === QUOTE) break
          i += d === BACKSLASH ? 2 : 1
        }
        if (i >= length) {
          // The string goes on in the next chunk: the general loop takes it from there.
          this.inString = true
          this.skip = i - length
          this.depth = depth
          this.lastSolid = solid
          return length
        }
        i++
        solid = base + i
        continue
      }
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        i++
        continue
      }
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++
      else if ((c === CLOSE_OBJECT || c === CLOSE_ARRAY) && depth > 2) depth--
      else if (depth === 2 && (c === COMMA || c === CLOSE_ARRAY)) {
        this.depth = depth
        this.lastSolid = solid
        this.element(c)
        i++
        this.lastSolid = base + i
        if (this.state !== State.Element && this.state !== State.ElementStart) return i
        // The next element starts at the next solid byte: the general loop finds it.
        return i
      }
      i++
      solid = base + i
    }
    this.depth = depth
    this.lastSolid = solid
    return i
  }

  /** A byte of a member value (not a string's content). */
  private value(c: number, chunk: Buffer, i: number, base: number): void {
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) this.depth++
    else if ((c === CLOSE_OBJECT || c === CLOSE_ARRAY) && this.depth > 1) this.depth--
    else if (this.depth === 1 && (c === COMMA || c === CLOSE_OBJECT)) {
      // The member ends before this byte: parse it, then read the byte again as what follows it.
      const bytes = this.collector.finish(chunk, i, () => this.what())
      this.members[this.key] = this.parse(bytes, base + i - bytes.length)
      this.state = State.AfterValue
      if (c === COMMA) this.state = State.Key
      else {
        this.state = State.End
        this.depth = 0
      }
    }
  }

  /** A byte of an array element (not a string's content); elements are only located here. */
  private element(c: number): void {
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) this.depth++
    else if ((c === CLOSE_OBJECT || c === CLOSE_ARRAY) && this.depth > 2) this.depth--
    else if (this.depth === 2 && (c === COMMA || c === CLOSE_ARRAY)) {
      const end = this.lastSolid
      if (end - this.elementStart > MAX_PIECE_BYTES) this.fail(this.elementStart, `element ${this.ranges!.length} of "${this.key}" is larger than ${MAX_PIECE_BYTES >> 20} MiB`)
      this.ranges!.push(this.elementStart, end)
      if (c === COMMA) this.state = State.ElementStart
      else {
        this.depth = 1
        this.state = State.AfterValue
      }
    }
  }

  private endKey(chunk: Buffer, at: number): void {
    const bytes = this.collector.finish(chunk, at, () => 'a member name')
    let key: string
    try {
      key = JSON.parse(bytes.toString('utf8')) as string
    } catch {
      return this.fail(this.lastSolid, 'a member name is not a valid JSON string')
    }
    if (this.seen.has(key)) this.fail(this.lastSolid, `"${key}" is given twice (JSON leaves open which one counts)`)
    this.seen.add(key)
    this.key = key
    this.state = State.Colon
  }

  private parse(bytes: Buffer, at: number): unknown {
    try {
      return JSON.parse(bytes.toString('utf8'))
    } catch (error) {
      return this.fail(at, `the value of "${this.key}" is not valid JSON (${messageOf(error)})`)
    }
  }

  private what(): string {
    return this.key ? `the value of "${this.key}"` : 'a member'
  }

  finish(bytes: number): ManifestScan {
    if (this.inString || this.state !== State.End) {
      this.fail(bytes, bytes === 0 ? 'it is empty' : 'it ends before its closing "}" (cut off?)')
    }
    return { file: this.file, bytes, members: this.members, ...this.arrays }
  }

  private fail(offset: number, why: string): never {
    throw new ManifestError(`manifest ${this.file} is not JSON: ${why} (at byte ${offset}); give the credbake-manifest.json a bake wrote`, { file: this.file })
  }
}

/** One element's text and its index in its array. */
export interface EntryText {
  index: number
  text: string
}

/**
 * Elements [from, to) of `ranges`, read from the file in one read (they are contiguous): the bytes
 * and each element's place in them, for a checker to decode and parse.
 */
export async function readEntries(handle: FileHandle, file: string, ranges: EntryRanges, from: number, to: number): Promise<{ bytes: Buffer; offsets: number[] }> {
  const start = ranges.start(from)
  const end = ranges.end(to - 1)
  const bytes = Buffer.allocUnsafe(end - start)
  for (let done = 0; done < bytes.length; ) {
    const { bytesRead } = await handle.read(bytes, done, bytes.length - done, start + done)
    if (bytesRead === 0) throw new ManifestError(`manifest ${file} became shorter while verify read it: give a manifest nothing writes to`, { file })
    done += bytesRead
  }
  const offsets: number[] = []
  for (let index = from; index < to; index++) offsets.push(ranges.start(index) - start, ranges.end(index) - start)
  return { bytes, offsets }
}

/** The elements in `bytes` at `offsets` (pairs), as text. */
export function entryTexts(bytes: Uint8Array, offsets: readonly number[], first: number): EntryText[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const texts: EntryText[] = []
  for (let i = 0; i + 1 < offsets.length; i += 2) texts.push({ index: first + i / 2, text: buffer.toString('utf8', offsets[i], offsets[i + 1]) })
  return texts
}
