// gzip (RFC 1952) of an overlay in plain JavaScript, kept because node:zlib would break the tar
// speed floor: per overlay it takes 34-48 µs here against 69-95 µs for zlib.gzipSync at level 1,
// and in one sitting of `npm run bench` (2026-12-07, 2-core machine, load 6-7) a tar bake on tmpfs
// spent 290 µs of CPU per device (all threads) with this encoder and 336 µs with gzipSync: 16% more,
// where the floor (1.0x the crypto-only node:crypto loop) was met at 1.04x before the change.
//
// An overlay is a few KiB (five 512-byte headers, two PEMs, zero padding); zlib's gzipSync spends
// more on setting up its stream object and its ~256 KiB deflate state per call than on compressing
// them. This encoder writes one DEFLATE block with the fixed Huffman codes (RFC 1951 §3.2.6):
// greedy LZ77 matches (3-byte hash, one candidate, like zlib's level 1) and runs of zeros as
// matches one byte back. overlayGzip goes further, from the archive's pieces (tar-archive.ts): a
// header block, the same for every device of a run, is compressed once (matches within itself
// only) and its bits reused; file contents (base64 text, hardly any repeats) go out as literals;
// padding as zero runs. What comes out is an ordinary .tar.gz: gunzip, GNU tar and busybox read it
// like any other (see test/formats/tar-gzip.test.ts). Large archives go through gzipSync instead.
import zlib from 'node:zlib'
import type { BundleFile } from '../bundle/types.js'
import { tarArchive, tarPieces, TAR_BLOCK, TAR_END_BYTES } from './tar-archive.js'

const crc32 = zlib.crc32

/** Above this size zlib's set-up cost no longer matters and its dynamic codes compress better. */
const MAX_OWN_INPUT = 256 * 1024

/** zlib's level when this encoder is not used: for PEM text within a few percent of level 6 at half the cost. */
const FALLBACK_LEVEL = 1

const WINDOW = 32768
const MIN_MATCH = 3
const MAX_MATCH = 258
const HASH_BITS = 15
const HASH_MASK = (1 << HASH_BITS) - 1

function reversed(code: number, bits: number): number {
  let result = 0
  for (let bit = 0; bit < bits; bit++) {
    result = (result << 1) | (code & 1)
    code >>= 1
  }
  return result
}

// Fixed literal/length codes, bit-reversed: DEFLATE sends Huffman codes most significant bit first
// into a stream filled from each byte's least significant bit.
const LITERAL_CODE = new Uint16Array(288)
const LITERAL_BITS = new Uint8Array(288)
for (let symbol = 0; symbol < 288; symbol++) {
  const [first, base, bits] = symbol < 144 ? [0, 0x30, 8] : symbol < 256 ? [144, 0x190, 9] : symbol < 280 ? [256, 0, 7] : [280, 0xc0, 8]
  LITERAL_CODE[symbol] = reversed(base + symbol - first, bits)
  LITERAL_BITS[symbol] = bits
}

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
const DISTANCE_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
const DISTANCE_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

// Per match length: its code and extra bits as one bit string (at most 8 + 5 bits).
const LENGTH_CODE = new Uint16Array(MAX_MATCH + 1)
const LENGTH_BITS = new Uint8Array(MAX_MATCH + 1)
for (let length = MIN_MATCH, index = 0; length <= MAX_MATCH; length++) {
  // 258 has a code of its own (285), though 284's extra bits could also reach it.
  while (index + 1 < LENGTH_BASE.length && LENGTH_BASE[index + 1]! <= length) index++
  const symbol = 257 + index
  LENGTH_CODE[length] = LITERAL_CODE[symbol]! | ((length - LENGTH_BASE[index]!) << LITERAL_BITS[symbol]!)
  LENGTH_BITS[length] = LITERAL_BITS[symbol]! + LENGTH_EXTRA[index]!
}
const DISTANCE_CODE = DISTANCE_BASE.map((_, code) => reversed(code, 5))

// Per thread: the hash table (positions stored as `generation + position`, so a new call needs no
// clearing: anything below its generation is from an earlier call), the output scratch buffer and
// the compressed header blocks.
const table = new Int32Array(1 << HASH_BITS)
let generation = 1
let scratch = Buffer.allocUnsafe(16 * 1024)
const ZEROS = Buffer.alloc(TAR_END_BYTES)

/** `input` as a gzip member (no name, no mtime: outputs differ only by what they hold). */
export function gzipTar(input: Buffer): Buffer {
  if (input.length > MAX_OWN_INPUT) return zlib.gzipSync(input, { level: FALLBACK_LEVEL })
  const writer = startMember(input.length)
  lz77(input, writer)
  return finishMember(writer, crc32(input), input.length)
}

/** The overlay of `files` as .tar.gz bytes: gunzipped, exactly tarArchive(files, mtime). */
export function overlayGzip(files: readonly BundleFile[], mtime: Date): Buffer {
  const { pieces, size } = tarPieces(files, mtime)
  if (size > MAX_OWN_INPUT) return zlib.gzipSync(tarArchive(files, mtime), { level: FALLBACK_LEVEL })
  const writer = startMember(size)
  let crc = 0
  let afterZero = false
  for (const piece of pieces) {
    const bytes = piece.bytes
    if (piece.header) {
      writer.putBits(headerBits(bytes))
      afterZero = bytes[bytes.length - 1] === 0
      crc = crc32(bytes, crc)
      continue
    }
    for (let at = 0; at < bytes.length; at++) {
      const literal = bytes[at]!
      writer.put(LITERAL_CODE[literal]!, LITERAL_BITS[literal]!)
    }
    if (bytes.length > 0) afterZero = bytes[bytes.length - 1] === 0
    crc = crc32(bytes, crc)
    const pad = (TAR_BLOCK - (bytes.length % TAR_BLOCK)) % TAR_BLOCK
    if (pad > 0) {
      zeroRun(writer, pad, afterZero)
      afterZero = true
      crc = crc32(ZEROS.subarray(0, pad), crc)
    }
  }
  zeroRun(writer, TAR_END_BYTES, afterZero)
  crc = crc32(ZEROS, crc)
  return finishMember(writer, crc, size)
}

/** The DEFLATE bits, least significant first, into a buffer. */
class BitWriter {
  bits = 0
  count = 0

  constructor(
    readonly out: Buffer,
    public at: number
  ) {}

  /** `length` (at most 25) bits of `value`. */
  put(value: number, length: number): void {
    this.bits |= value << this.count
    this.count += length
    while (this.count >= 8) {
      this.out[this.at++] = this.bits & 0xff
      this.bits >>>= 8
      this.count -= 8
    }
  }

  putBits(string: BitString): void {
    const whole = string.bits >> 3
    for (let index = 0; index < whole; index++) this.put(string.bytes[index]!, 8)
    const rest = string.bits & 7
    if (rest) this.put(string.bytes[whole]! & ((1 << rest) - 1), rest)
  }

  /** Pad to a byte boundary with zero bits. */
  flush(): void {
    if (this.count > 0) this.put(0, 8 - this.count)
  }
}

interface BitString {
  bytes: Buffer
  bits: number
}

const headerCache = new WeakMap<Buffer, BitString>()

/** A header block's codes on their own (a match reaches only into the block itself), once per block. */
function headerBits(block: Buffer): BitString {
  let cached = headerCache.get(block)
  if (!cached) {
    const writer = new BitWriter(Buffer.alloc(Math.ceil((block.length * 9) / 8) + 8), 0)
    lz77(block, writer)
    const bits = writer.at * 8 + writer.count
    writer.flush()
    cached = { bytes: Buffer.from(writer.out.subarray(0, writer.at)), bits }
    headerCache.set(block, cached)
  }
  return cached
}

/** `length` zeros; `afterZero`: the byte before them is a zero too (so a match can start at once). */
function zeroRun(writer: BitWriter, length: number, afterZero: boolean): void {
  let left = length
  if (!afterZero) {
    writer.put(LITERAL_CODE[0]!, LITERAL_BITS[0]!)
    left--
  }
  while (left >= MIN_MATCH) {
    const run = Math.min(MAX_MATCH, left)
    writer.put(LENGTH_CODE[run]!, LENGTH_BITS[run]!)
    writer.put(DISTANCE_CODE[0]!, 5)
    left -= run
  }
  for (; left > 0; left--) writer.put(LITERAL_CODE[0]!, LITERAL_BITS[0]!)
}

/** A writer past the gzip header and the block header, with room for `length` input bytes. */
function startMember(length: number): BitWriter {
  // Worst case: every byte a 9-bit literal, plus block header, end code, padding, header, trailer.
  const out = scratchOf(10 + Math.ceil((length * 9 + 3 + 7 + 7) / 8) + 8)
  // Header: magic, CM deflate, no flags, MTIME 0, XFL 4 (fastest), OS 3 (Unix), as gzip -1 writes.
  out[0] = 0x1f
  out[1] = 0x8b
  out[2] = 8
  out.fill(0, 3, 8)
  out[8] = 4
  out[9] = 3
  const writer = new BitWriter(out, 10)
  // BFINAL 1, BTYPE 01 (fixed codes).
  writer.put(0b011, 3)
  return writer
}

/** End of block, padding, and the trailer: CRC-32 and the input length mod 2^32, little-endian. */
function finishMember(writer: BitWriter, crc: number, length: number): Buffer {
  writer.put(LITERAL_CODE[256]!, LITERAL_BITS[256]!)
  writer.flush()
  const { out } = writer
  let at = writer.at
  out.writeUInt32LE(crc >>> 0, at)
  out.writeUInt32LE(length >>> 0, at + 4)
  at += 8
  const result = Buffer.allocUnsafe(at)
  out.copy(result, 0, 0, at)
  return result
}

// The rare steps live in functions of their own: a call the optimised encoder has never seen
// taken would throw it back to the interpreter (V8's "insufficient type feedback") on every call.
function newGeneration(length: number): number {
  // Kept below 2^30: small integers stay unboxed in V8.
  if (generation + length + 1 >= 0x3fffffff) {
    table.fill(0)
    generation = 1
  }
  const base = generation
  generation += length + 1
  return base
}

function scratchOf(bound: number): Buffer {
  if (scratch.length < bound) scratch = Buffer.allocUnsafe(bound)
  return scratch
}

/** `input` as 32-bit words, when its offset allows (index i covers bytes 4i to 4i+3). */
function wordsOf(input: Buffer): Int32Array | undefined {
  return input.byteOffset % 4 === 0 && input.length >= 64 ? new Int32Array(input.buffer, input.byteOffset, input.length >> 2) : undefined
}

/** The codes of `input` (matches only within it), without block header or end code. */
function lz77(input: Buffer, writer: BitWriter): void {
  const length = input.length
  const base = newGeneration(length)
  const words = wordsOf(input)
  let position = 0
  while (position < length) {
    let matched = 0
    let distance = 0
    const first = input[position]!
    if (first === 0 && position > 0 && input[position - 1] === 0) {
      // Inside a run of zeros (the tar's padding and empty header fields): a match one byte back,
      // found without hashing.
      const stop = Math.min(length, position + MAX_MATCH)
      let end = position + 1
      while (end < stop && (end & 3) !== 0 && input[end] === 0) end++
      // Four bytes at a time where the view allows (tar blocks are 512-byte aligned).
      if (words !== undefined) while (end + 4 <= stop && words[end >> 2] === 0) end += 4
      while (end < stop && input[end] === 0) end++
      if (end - position >= MIN_MATCH) {
        matched = end - position
        distance = 1
      }
    } else if (position + MIN_MATCH <= length) {
      const second = input[position + 1]!
      const third = input[position + 2]!
      const hash = ((first << 10) ^ (second << 5) ^ third) & HASH_MASK
      const candidate = table[hash]! - base
      table[hash] = base + position
      if (candidate >= 0 && position - candidate <= WINDOW && input[candidate] === first && input[candidate + 1] === second && input[candidate + 2] === third) {
        const limit = Math.min(MAX_MATCH, length - position)
        matched = MIN_MATCH
        while (matched < limit && input[candidate + matched] === input[position + matched]) matched++
        distance = position - candidate
      }
    }
    if (matched) {
      writer.put(LENGTH_CODE[matched]!, LENGTH_BITS[matched]!)
      let code = 29
      while (DISTANCE_BASE[code]! > distance) code--
      writer.put(DISTANCE_CODE[code]! | ((distance - DISTANCE_BASE[code]!) << 5), 5 + DISTANCE_EXTRA[code]!)
      position += matched
    } else {
      writer.put(LITERAL_CODE[first]!, LITERAL_BITS[first]!)
      position++
    }
  }
}
