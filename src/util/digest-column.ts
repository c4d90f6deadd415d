// SHA-256 digests kept per row as 32 bytes instead of a 64-character string each: the resume
// state and the review hold one per device (100,000 devices: 3 MiB instead of about 15).

const LOWER_HEX_SHA256 = /^[0-9a-f]{64}$/

/** Digests by row: lowercase hex (as credbake writes them) as bytes, anything else as text. */
export class DigestColumn {
  private bytes: Buffer
  private readonly odd = new Map<number, string>()
  private readonly scratch = Buffer.alloc(32)

  /** `rows`: how many rows to make room for at first (it grows as rows are set). */
  constructor(rows = 1024) {
    this.bytes = Buffer.alloc(32 * Math.max(1, rows))
  }

  set(row: number, hex: string): void {
    if (!LOWER_HEX_SHA256.test(hex)) {
      this.odd.set(row, hex)
      return
    }
    this.odd.delete(row)
    if ((row + 1) * 32 > this.bytes.length) {
      const bigger = Buffer.alloc(Math.max(this.bytes.length * 2, (row + 1) * 32))
      this.bytes.copy(bigger)
      this.bytes = bigger
    }
    this.bytes.write(hex, row * 32, 32, 'hex')
  }

  /** The row's digest; a row never set reads as zeros. */
  get(row: number): string {
    return this.odd.get(row) ?? this.bytes.toString('hex', row * 32, row * 32 + 32)
  }

  /** Whether the row (one that was set) holds `hex`, compared without making its text. */
  equals(row: number, hex: string): boolean {
    const odd = this.odd.get(row)
    if (odd !== undefined) return odd === hex
    if (!LOWER_HEX_SHA256.test(hex) || (row + 1) * 32 > this.bytes.length) return false
    this.scratch.write(hex, 0, 32, 'hex')
    return this.bytes.compare(this.scratch, 0, 32, row * 32, row * 32 + 32) === 0
  }
}
