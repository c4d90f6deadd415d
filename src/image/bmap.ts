// Block maps (bmap format 2.0, as bmaptool reads them) for image outputs: the list of 4 KiB blocks
// that hold data, in ranges, each with the SHA-256 of its bytes. `bmaptool copy` writes only those
// blocks and checks each range while it writes, and checks the bmap file's own checksum first.
//
// Which blocks are "mapped": Node has no SEEK_DATA/FIEMAP, and outputs are sparse copies whose
// holes are exactly the base's all-zero 4 KiB blocks (src/image/copy.ts), so a block is mapped
// when it holds a non-zero byte. The bmap is computed from the bytes themselves, in the same read
// as the output's SHA-256 (src/image/hash-pool.ts). Flashed to a file, unmapped blocks become holes
// that read as zeros (byte-for-byte equal, `cmp` agrees); flashed to a device, unmapped blocks are
// not written and keep whatever the device held, exactly as with a bmap that bmaptool made from a
// sparse image's holes.
import { createHash, type Hash } from 'node:crypto'
import { open, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { tempSibling, writeAll } from '../util/fsx.js'
import { dataRuns } from './io.js'

export const BMAP_BLOCK_SIZE = 4096
export const BMAP_VERSION = '2.0'

/** An inclusive range of mapped blocks and the SHA-256 of its bytes (the last block cut at the image end). */
export interface BmapRange {
  first: number
  last: number
  sha256: string
}

export interface BmapSummary {
  imageSize: number
  ranges: BmapRange[]
}

/**
 * Builds a block map from a file's bytes fed in order. `update(chunk)` takes the next bytes; chunks
 * may have any length. `copy()` forks the state (for outputs that share a prefix with the base).
 */
export class BmapBuilder {
  private ranges: BmapRange[] = []
  /** The range still growing: its first and last block and the hash of its bytes so far. */
  private open: { first: number; last: number; hash: Hash } | undefined
  /** Bytes of a block not yet complete (chunks need not be block-aligned). */
  private carry = Buffer.alloc(0)
  private offset = 0

  /** Bytes fed so far. */
  get size(): number {
    return this.offset + this.carry.length
  }

  update(chunk: Uint8Array): void {
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    if (this.carry.length > 0) {
      const need = BMAP_BLOCK_SIZE - this.carry.length
      if (data.length < need) {
        this.carry = Buffer.concat([this.carry, data])
        return
      }
      this.scan(Buffer.concat([this.carry, data.subarray(0, need)]))
      data = data.subarray(need)
      this.carry = Buffer.alloc(0)
    }
    const whole = data.length - (data.length % BMAP_BLOCK_SIZE)
    if (whole > 0) this.scan(data.subarray(0, whole))
    if (whole < data.length) this.carry = Buffer.from(data.subarray(whole))
  }

  /** The map of everything fed; the builder must not be used after. */
  finish(): BmapSummary {
    if (this.carry.length > 0) {
      this.scan(this.carry)
      this.carry = Buffer.alloc(0)
    }
    this.close()
    return { imageSize: this.offset, ranges: this.ranges }
  }

  copy(): BmapBuilder {
    const twin = new BmapBuilder()
    twin.ranges = this.ranges.slice()
    twin.open = this.open ? { first: this.open.first, last: this.open.last, hash: this.open.hash.copy() } : undefined
    twin.carry = Buffer.from(this.carry)
    twin.offset = this.offset
    return twin
  }

  /** `data` starts at `this.offset` (block-aligned) and is whole blocks, or the image's last bytes. */
  private scan(data: Buffer): void {
    const base = this.offset / BMAP_BLOCK_SIZE
    for (const [start, end] of dataRuns(data)) {
      const first = base + start / BMAP_BLOCK_SIZE
      const last = base + Math.ceil(end / BMAP_BLOCK_SIZE) - 1
      if (!this.open || this.open.last !== first - 1) {
        this.close()
        this.open = { first, last, hash: createHash('sha256') }
      }
      this.open.hash.update(data.subarray(start, end))
      this.open.last = last
    }
    // A zero block at the end of this piece ends the open range.
    if (this.open && this.open.last < base + Math.ceil(data.length / BMAP_BLOCK_SIZE) - 1) this.close()
    this.offset += data.length
  }

  private close(): void {
    if (!this.open) return
    this.ranges.push({ first: this.open.first, last: this.open.last, sha256: this.open.hash.digest('hex') })
    this.open = undefined
  }
}

export function blocksCount(imageSize: number): number {
  return Math.ceil(imageSize / BMAP_BLOCK_SIZE)
}

export function mappedBlocksCount(ranges: readonly BmapRange[]): number {
  return ranges.reduce((sum, range) => sum + range.last - range.first + 1, 0)
}

function humanSize(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`
}

const ZERO_CHECKSUM = '0'.repeat(64)

/**
 * The bmap file text. BmapFileChecksum is the SHA-256 of the whole file with that field's value
 * written as 64 '0' characters, which is how bmaptool checks it.
 */
export function renderBmap(summary: BmapSummary): string {
  const blocks = blocksCount(summary.imageSize)
  const mapped = mappedBlocksCount(summary.ranges)
  const percent = blocks === 0 ? 0 : (mapped * 100) / blocks
  const lines = [
    '<?xml version="1.0" ?>',
    '<!-- Block map of an image written by credbake: the 4 KiB blocks that hold data (any',
    '     non-zero byte), with the SHA-256 of each range. Flash with `bmaptool copy IMAGE DEVICE`:',
    '     only these blocks are written and each range is checked. Blocks not listed are all',
    '     zeros in the image; they are not written to a device (a file target reads them as',
    '     zeros). -->',
    '',
    `<bmap version="${BMAP_VERSION}">`,
    `    <!-- Image size: ${humanSize(summary.imageSize)} -->`,
    `    <ImageSize> ${summary.imageSize} </ImageSize>`,
    '',
    '    <!-- Block size in bytes -->',
    `    <BlockSize> ${BMAP_BLOCK_SIZE} </BlockSize>`,
    '',
    '    <!-- Blocks in the image (the last one may be partial) -->',
    `    <BlocksCount> ${blocks} </BlocksCount>`,
    '',
    `    <!-- Mapped blocks: ${humanSize(mapped * BMAP_BLOCK_SIZE)}, ${percent.toFixed(1)}% of the image -->`,
    `    <MappedBlocksCount> ${mapped} </MappedBlocksCount>`,
    '',
    '    <!-- Checksum of the ranges and of this file -->',
    '    <ChecksumType> sha256 </ChecksumType>',
    '',
    '    <!-- SHA-256 of this file, computed with this value written as 64 "0" characters -->',
    `    <BmapFileChecksum> ${ZERO_CHECKSUM} </BmapFileChecksum>`,
    '',
    '    <!-- The block map: ranges of blocks (first-last, inclusive) or single blocks; the',
    "         'chksum' attribute is the SHA-256 of the range's bytes. -->",
    '    <BlockMap>',
    ...summary.ranges.map((range) => `        <Range chksum="${range.sha256}"> ${range.first === range.last ? `${range.first}` : `${range.first}-${range.last}`} </Range>`),
    '    </BlockMap>',
    '</bmap>',
    ''
  ]
  const draft = lines.join('\n')
  const checksum = createHash('sha256').update(draft, 'utf8').digest('hex')
  return draft.replace(`<BmapFileChecksum> ${ZERO_CHECKSUM} </BmapFileChecksum>`, `<BmapFileChecksum> ${checksum} </BmapFileChecksum>`)
}

/**
 * Where the bmap of an image output goes: beside it, named after the uncompressed image, which is
 * where bmaptool looks (for `x.img.zst` it tries `x.img.zst.bmap`, then `x.img.bmap`).
 */
export function bmapPathFor(outputPath: string): string {
  const dir = path.posix.dirname(outputPath)
  const name = path.posix.basename(outputPath).replace(/\.(gz|xz|zst)$/i, '')
  return dir === '.' ? `${name}.bmap` : `${dir}/${name}.bmap`
}

/**
 * Write the bmap of `summary` to `target` (temporary name, then rename; 0644: it holds no secret
 * beyond what the manifest's output SHA-256 already says). Returns the file's SHA-256.
 */
export async function writeBmapFile(target: string, summary: BmapSummary): Promise<string> {
  const text = Buffer.from(renderBmap(summary), 'utf8')
  const temp = tempSibling(target)
  try {
    const handle = await open(temp, 'w', 0o644)
    try {
      await writeAll(handle, text)
    } finally {
      await handle.close()
    }
    await rename(temp, target)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
  return createHash('sha256').update(text).digest('hex')
}
