// Whether a hex value (a certificate fingerprint or serial number) was seen before, and by which
// entry, for 100,000 entries without 100,000 strings: the values are kept as bytes in one buffer
// and found through an open-addressing table of row numbers.

export class HexSet {
  private rows: Buffer
  private owners: Int32Array
  private table: Int32Array
  private count = 0
  private readonly scratch: Buffer

  /** `width`: bytes per value (64 hex digits: 32). */
  constructor(
    private readonly width: number,
    expected = 1024
  ) {
    const capacity = Math.max(16, expected)
    this.rows = Buffer.alloc(capacity * width)
    this.owners = new Int32Array(capacity)
    this.table = new Int32Array(tableSize(capacity))
    this.scratch = Buffer.alloc(width)
  }

  /** Which owner added `hex` before (-1: none). Only lower-case hex of the set's width is kept; anything else is never found. */
  find(hex: string): number {
    if (!this.decode(hex)) return -1
    const slot = this.slotOf(this.scratch)
    const row = (this.table[slot] as number) - 1
    return row === -1 ? -1 : (this.owners[row] as number)
  }

  /** Add `hex` for `owner`; returns the owner that added it before (then nothing is added), or -1. */
  add(hex: string, owner: number): number {
    if (!this.decode(hex)) return -1
    const slot = this.slotOf(this.scratch)
    const row = (this.table[slot] as number) - 1
    if (row !== -1) return this.owners[row] as number
    if ((this.count + 1) * this.width > this.rows.length) this.grow()
    this.scratch.copy(this.rows, this.count * this.width)
    this.owners[this.count] = owner
    this.count++
    if (this.count * 2 > this.table.length) this.rehash()
    else this.table[slot] = this.count
    return -1
  }

  private decode(hex: string): boolean {
    if (hex.length !== this.width * 2 || !/^[0-9a-f]+$/.test(hex)) return false
    this.scratch.write(hex, 0, this.width, 'hex')
    return true
  }

  /** The slot holding `value`, or the empty slot where it would go. */
  private slotOf(value: Buffer): number {
    const mask = this.table.length - 1
    // The values are digests or random serial numbers: their bytes are already well mixed.
    let slot = (value.readUInt32BE(value.length - 4) ^ value.readUInt32BE(0)) & mask
    for (;;) {
      const row = (this.table[slot] as number) - 1
      if (row === -1 || this.rows.compare(value, 0, this.width, row * this.width, (row + 1) * this.width) === 0) return slot
      slot = (slot + 1) & mask
    }
  }

  private grow(): void {
    const rows = Buffer.alloc(this.rows.length * 2)
    this.rows.copy(rows)
    this.rows = rows
    const owners = new Int32Array(this.owners.length * 2)
    owners.set(this.owners)
    this.owners = owners
  }

  private rehash(): void {
    this.table = new Int32Array(this.table.length * 2)
    for (let row = 0; row < this.count; row++) {
      const value = this.rows.subarray(row * this.width, (row + 1) * this.width)
      this.table[this.slotOf(value)] = row + 1
    }
  }
}

function tableSize(capacity: number): number {
  let size = 16
  while (size < capacity * 2) size *= 2
  return size
}
