// Generators and mutators for the fuzz properties. Mutations are generated as small descriptions
// (which bytes, which field, which value) and applied inside the property, so a counterexample
// prints as a short, readable recipe instead of a megabyte of image bytes.
import fc from 'fast-check'

// ---- text ---------------------------------------------------------------------------------------

/** Tokens that matter to CSV, JSON, YAML and PEM readers, and to the manifest's own rules. */
export const TOKENS = [
  '"',
  "'",
  ',',
  ';',
  '\t',
  '\n',
  '\r\n',
  '\r',
  ':',
  ': ',
  '- ',
  '  ',
  '[',
  ']',
  '{',
  '}',
  '&a ',
  '*a',
  '<<: *a',
  '<<: [*a, *a]',
  '!!binary ',
  '!!str ',
  '---\n',
  '...\n',
  '#',
  '\\',
  '\\u0000',
  '\\n',
  '\u0000',
  '\uFEFF',
  '\u2028',
  '\uD800',
  '..',
  '/',
  '.',
  'serial',
  'device-id',
  'csr',
  '__proto__',
  'constructor',
  'null',
  'true',
  '~',
  '1e400',
  '-0',
  '12345678901234567890',
  '0x1F',
  '%YAML 1.2\n',
  '? ',
  '|',
  '>',
  '=',
  'devices:',
  '"devices":',
  '-----BEGIN ',
  '-----END ',
  '-----',
  'CERTIFICATE',
  'PRIVATE KEY',
  'Proc-Type: 4,ENCRYPTED\n',
  'DEK-Info: AES-256-CBC,00\n',
  '====',
  'A'.repeat(65)
]

/** Positions are fractions (0..1) of the text's length when the mutation is applied. */
export type TextMutation =
  | { op: 'insert'; at: number; token: string }
  | { op: 'delete'; at: number; length: number }
  | { op: 'replace'; at: number; length: number; token: string }
  | { op: 'duplicate'; at: number; length: number; times: number }
  | { op: 'truncate'; at: number }
  | { op: 'swapLines'; at: number; other: number }
  | { op: 'repeat'; at: number; token: string; times: number }

/**
 * A position as a fraction of the input's length: mostly uniform (fast-check's default bias toward
 * small values would hit the first bytes, the outer DER header, far too often), sometimes biased
 * (the edges matter too: a cut at 0, the last byte).
 */
const position = fc.oneof(
  { weight: 4, arbitrary: fc.noBias(fc.integer({ min: 0, max: 999_999 })).map((n) => n / 1_000_000) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }) }
)
const token = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...TOKENS) }, { weight: 1, arbitrary: fc.string({ maxLength: 6, unit: 'binary' }) })

export const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({ op: fc.constant('insert' as const), at: position, token }),
  fc.record({ op: fc.constant('delete' as const), at: position, length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant('replace' as const), at: position, length: fc.integer({ min: 1, max: 8 }), token }),
  fc.record({ op: fc.constant('duplicate' as const), at: position, length: fc.integer({ min: 1, max: 200 }), times: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: position }),
  fc.record({ op: fc.constant('swapLines' as const), at: position, other: position }),
  // Deep nesting and long runs: "[" x 3000, "&a *a " x 100, ...
  fc.record({
    op: fc.constant('repeat' as const),
    at: position,
    token: fc.constantFrom('[', '{', '- ', '  ', '"', '&a *a ', ',', '\n', 'A'),
    times: fc.integer({ min: 2, max: 3000 })
  })
)

export function mutateText(text: string, mutations: readonly TextMutation[]): string {
  let out = text
  for (const m of mutations) {
    const at = Math.floor(m.at * (out.length + 1))
    switch (m.op) {
      case 'insert':
        out = out.slice(0, at) + m.token + out.slice(at)
        break
      case 'delete':
        out = out.slice(0, at) + out.slice(at + m.length)
        break
      case 'replace':
        out = out.slice(0, at) + m.token + out.slice(at + m.length)
        break
      case 'duplicate': {
        const slice = out.slice(at, at + m.length)
        out = out.slice(0, at) + slice.repeat(m.times + 1) + out.slice(at + m.length)
        break
      }
      case 'truncate':
        out = out.slice(0, at)
        break
      case 'swapLines': {
        const lines = out.split('\n')
        const a = Math.floor(m.at * lines.length)
        const b = Math.floor(m.other * lines.length)
        const kept = lines[a] ?? ''
        lines[a] = lines[b] ?? ''
        lines[b] = kept
        out = lines.join('\n')
        break
      }
      case 'repeat':
        out = out.slice(0, at) + m.token.repeat(m.times) + out.slice(at)
        break
    }
  }
  return out
}

// ---- manifests ------------------------------------------------------------------------------------

export type ManifestFormat = 'csv' | 'json' | 'jsonl' | 'yaml'

/** Serials: mostly valid, sometimes not (so valid and invalid rows mix). */
const serial = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/) },
  { weight: 1, arbitrary: fc.constantFrom('..', '.x', '', 'A'.repeat(65), 'a b', 'a/b', 'SN:1', 'SN-0001', 'sn-0001', '😀') },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }
)
const fieldValue = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('', 'eu', '00123', '1.50', 'true', 'null', 'x,y', 'a"b', 'line\nbreak'))
const extraKey = fc.constantFrom('region', 'device-id', 'device_id', 'deviceId', 'csr', 'model', 'Serial', '', 'serial')

export interface ManifestSpec {
  format: ManifestFormat
  rows: Array<{ serial: string; extra: Array<[string, string]> }>
  /** JSON: wrap as {devices:[...]}; YAML: under "devices:", with a "defaults" anchor merged into rows. */
  wrapped: boolean
  mutations: TextMutation[]
}

export const manifestSpec: fc.Arbitrary<ManifestSpec> = fc.record({
  format: fc.constantFrom<ManifestFormat>('csv', 'json', 'jsonl', 'yaml'),
  rows: fc.array(fc.record({ serial, extra: fc.array(fc.tuple(extraKey, fieldValue), { maxLength: 3 }) }), { minLength: 1, maxLength: 8 }),
  wrapped: fc.boolean(),
  mutations: fc.array(textMutation, { maxLength: 4 })
})

/** A manifest text of the spec, before its mutations. */
export function renderManifest(spec: Omit<ManifestSpec, 'mutations'>): string {
  const rows = spec.rows.map((row) => [['serial', row.serial] as [string, string], ...row.extra])
  switch (spec.format) {
    case 'csv': {
      const columns = [...new Set(rows.flatMap((row) => row.map(([key]) => key)))]
      const cell = (value: string): string => (/[",\n;]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value)
      return [columns.map(cell).join(','), ...rows.map((row) => columns.map((c) => cell(row.find(([k]) => k === c)?.[1] ?? '')).join(','))].join('\n') + '\n'
    }
    case 'json': {
      const list = rows.map((row) => Object.fromEntries(row))
      return `${JSON.stringify(spec.wrapped ? { devices: list } : list, null, 2)}\n`
    }
    case 'jsonl':
      return rows.map((row) => JSON.stringify(Object.fromEntries(row))).join('\n') + '\n'
    case 'yaml': {
      const item = (row: Array<[string, string]>, indent: string): string =>
        row.map(([k, v], i) => `${i === 0 ? `${indent}- ` : `${indent}  `}${JSON.stringify(k)}: ${JSON.stringify(v)}`).join('\n') +
        (spec.wrapped ? `\n${indent}  <<: *defaults` : '')
      return spec.wrapped
        ? `defaults: &defaults\n  region: eu\n  model: m1\ndevices:\n${rows.map((row) => item(row, '  ')).join('\n')}\n`
        : `${rows.map((row) => item(row, '')).join('\n')}\n`
    }
  }
}

// ---- DER / PEM --------------------------------------------------------------------------------------

export type ByteMutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'delete'; at: number; length: number }
  /** Rewrite the tag, length or first content byte of the TLV that starts nearest `at`. */
  | { op: 'tlv'; at: number; part: 'tag' | 'length' | 'content'; value: number }

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      at: position,
      value: fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x30, 0x31, 0x80, 0x81, 0x82, 0x84, 0xa0, 0xa3, 0xff)
    })
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: position }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at: position, bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at: position, length: fc.integer({ min: 1, max: 4 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('tlv' as const),
      at: position,
      part: fc.constantFrom('tag' as const, 'length' as const, 'content' as const),
      value: fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x17, 0x18, 0x30, 0x31, 0x7f, 0x80, 0x81, 0x84, 0x85, 0xff)
    })
  }
)

/** Offsets where DER elements start (a best-effort walk of nested TLVs). */
export function tlvStarts(der: Uint8Array): number[] {
  const starts: number[] = []
  const walk = (from: number, to: number, depth: number): void => {
    let at = from
    while (at + 2 <= to && depth < 20 && starts.length < 4096) {
      const tag = der[at] as number
      let length = der[at + 1] as number
      let header = 2
      if (length & 0x80) {
        const count = length & 0x7f
        if (count === 0 || count > 3 || at + 2 + count > to) return
        length = 0
        for (let i = 0; i < count; i++) length = length * 256 + (der[at + 2 + i] as number)
        header += count
      }
      const end = at + header + length
      if (end > to) return
      starts.push(at)
      // Constructed elements, and OCTET/BIT STRINGs that wrap DER (extension values, keys).
      if (tag & 0x20) walk(at + header, end, depth + 1)
      else if (tag === 0x04) walk(at + header, end, depth + 1)
      else if (tag === 0x03) walk(at + header + 1, end, depth + 1)
      at = end
    }
  }
  walk(0, der.length, 0)
  return starts
}

export function mutateBytes(input: Uint8Array, mutations: readonly ByteMutation[]): Buffer {
  let out = Buffer.from(input)
  for (const m of mutations) {
    const at = Math.min(out.length - 1, Math.floor(m.at * out.length))
    if (out.length === 0) break
    switch (m.op) {
      case 'flip':
        out[at] = (out[at] as number) ^ (1 << m.bit)
        break
      case 'set':
        out[at] = m.value
        break
      case 'truncate':
        out = out.subarray(0, at)
        break
      case 'insert':
        out = Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes), out.subarray(at)])
        break
      case 'delete':
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.length)])
        break
      case 'tlv': {
        const starts = tlvStarts(out)
        if (starts.length === 0) break
        const start = starts[Math.min(starts.length - 1, Math.floor(m.at * starts.length))] as number
        const offset = m.part === 'tag' ? 0 : m.part === 'length' ? 1 : 2 + ((out[start + 1] as number) & 0x80 ? (out[start + 1] as number) & 0x7f : 0)
        if (start + offset < out.length) out[start + offset] = m.value
        break
      }
    }
  }
  return out
}

export function pemOf(label: string, der: Uint8Array, width = 64): string {
  const base64 = Buffer.from(der).toString('base64')
  const lines: string[] = []
  for (let i = 0; i < base64.length; i += width) lines.push(base64.slice(i, i + width))
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
}

export function derOfPem(pem: string): { label: string; der: Buffer; headers: string } {
  const match = /-----BEGIN ([^-]+)-----\n((?:[A-Za-z-]+: [^\n]*\n)*\n?)([\s\S]*?)-----END/.exec(pem)
  if (!match) throw new Error('fixture is not PEM')
  return { label: match[1] as string, headers: match[2] as string, der: Buffer.from((match[3] as string).replace(/\s+/g, ''), 'base64') }
}

// ---- disk images ----------------------------------------------------------------------------------

/** Values that break naive arithmetic on LBAs, counts and sizes. */
export const INTERESTING_U64 = [
  0n,
  1n,
  2n,
  33n,
  34n,
  127n,
  128n,
  2047n,
  2048n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  2n ** 32n,
  2n ** 40n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 60n,
  2n ** 63n,
  2n ** 64n - 1n
]
export const INTERESTING_U32 = [0, 1, 2, 4, 8, 33, 34, 92, 127, 128, 129, 255, 256, 512, 2047, 2048, 32768, 65535, 0x7fffffff, 0x80000000, 0xffffffff]

export type GptField = 'headerSize' | 'myLba' | 'alternateLba' | 'firstUsable' | 'lastUsable' | 'entriesLba' | 'entryCount' | 'entrySize'

export type ImageMutation =
  /** Raw damage at a fraction of a region. */
  | { op: 'flip'; region: Region; at: number; bit: number }
  | { op: 'set'; region: Region; at: number; value: number }
  /** A GPT header field (primary, backup or both), with CRCs recomputed or not. */
  | { op: 'gptField'; which: 'primary' | 'backup' | 'both'; field: GptField; value: bigint; fixCrc: boolean }
  /** A GPT partition entry's first/last LBA or type (entry array CRCs and headers fixed up or not). */
  | { op: 'gptEntry'; index: number; field: 'first' | 'last' | 'type'; value: bigint; fixCrc: boolean }
  /** An MBR partition entry field. */
  | { op: 'mbrEntry'; slot: number; field: 'status' | 'type' | 'firstLba' | 'sectors'; value: number }
  /** Logical partitions: an extended partition and an EBR chain of the given shape. */
  | { op: 'ebrChain'; shape: 'self-loop' | 'two-loop' | 'long' | 'backwards' | 'huge-sizes' | 'nested-extended'; length: number }
  | { op: 'truncate'; at: number }

/**
 * Where raw damage lands: the MBR sector, the primary GPT header / entry array, the backup header,
 * the first 64 KiB, or the first 2 KiB of a file system (boot sector / superblock; the base's
 * partition offsets are passed to mutateImage).
 */
export type Region = 'mbr' | 'gptHeader' | 'gptEntries' | 'backupHeader' | 'head' | 'fs'

export const imageMutation: fc.Arbitrary<ImageMutation> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('flip' as const),
      region: fc.constantFrom<Region>('mbr', 'gptHeader', 'gptEntries', 'backupHeader', 'head', 'fs', 'fs'),
      at: position,
      bit: fc.integer({ min: 0, max: 7 })
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      region: fc.constantFrom<Region>('mbr', 'gptHeader', 'gptEntries', 'backupHeader', 'head', 'fs', 'fs'),
      at: position,
      value: fc.integer({ min: 0, max: 255 })
    })
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('gptField' as const),
      which: fc.constantFrom('primary' as const, 'backup' as const, 'both' as const),
      field: fc.constantFrom<GptField>('headerSize', 'myLba', 'alternateLba', 'firstUsable', 'lastUsable', 'entriesLba', 'entryCount', 'entrySize'),
      value: fc.oneof(fc.constantFrom(...INTERESTING_U64), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
      fixCrc: fc.boolean()
    })
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('gptEntry' as const),
      index: fc.integer({ min: 0, max: 3 }),
      field: fc.constantFrom('first' as const, 'last' as const, 'type' as const),
      value: fc.oneof(fc.constantFrom(...INTERESTING_U64), fc.bigInt({ min: 0n, max: 4096n })),
      fixCrc: fc.boolean()
    })
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('mbrEntry' as const),
      slot: fc.integer({ min: 0, max: 3 }),
      field: fc.constantFrom('status' as const, 'type' as const, 'firstLba' as const, 'sectors' as const),
      value: fc.oneof(fc.constantFrom(...INTERESTING_U32, 0x05, 0x0f, 0x85, 0xee, 0x83, 0x0c, 0x80), fc.integer({ min: 0, max: 4096 }))
    })
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('ebrChain' as const),
      shape: fc.constantFrom('self-loop' as const, 'two-loop' as const, 'long' as const, 'backwards' as const, 'huge-sizes' as const, 'nested-extended' as const),
      length: fc.integer({ min: 1, max: 400 })
    })
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: position }) }
)

const GPT_OFFSETS: Record<GptField, { at: number; size: 4 | 8 }> = {
  headerSize: { at: 12, size: 4 },
  myLba: { at: 24, size: 8 },
  alternateLba: { at: 32, size: 8 },
  firstUsable: { at: 40, size: 8 },
  lastUsable: { at: 48, size: 8 },
  entriesLba: { at: 72, size: 8 },
  entryCount: { at: 80, size: 4 },
  entrySize: { at: 84, size: 4 }
}

export function crc32(data: Uint8Array): number {
  let crc = 0xffffffff
  for (const byte of data) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

const SECTOR = 512

function headerAt(image: Buffer, which: 'primary' | 'backup'): number {
  return which === 'primary' ? SECTOR : image.length - SECTOR
}

/** Recompute a GPT header's entry-array CRC (from where it says its entries are) and its own CRC. */
function resealGpt(image: Buffer, which: 'primary' | 'backup'): void {
  const at = headerAt(image, which)
  if (at < SECTOR || at + 92 > image.length || image.toString('latin1', at, at + 8) !== 'EFI PART') return
  const entriesLba = image.readBigUInt64LE(at + 72)
  const count = image.readUInt32LE(at + 80)
  const size = image.readUInt32LE(at + 84)
  const start = Number(entriesLba) * SECTOR
  const length = count * size
  if (entriesLba < BigInt(Math.floor(image.length / SECTOR)) && length <= 4 << 20 && start + length <= image.length) {
    image.writeUInt32LE(crc32(image.subarray(start, start + length)), at + 88)
  }
  const headerSize = Math.min(image.readUInt32LE(at + 12), SECTOR)
  image.writeUInt32LE(0, at + 16)
  if (headerSize >= 92) image.writeUInt32LE(crc32(image.subarray(at, at + headerSize)), at + 16)
}

function writeMbrEntry(sector: Buffer, base: number, slot: number, type: number, firstLba: number, sectors: number): void {
  const at = base + 446 + slot * 16
  sector.fill(0, at, at + 16)
  sector[at + 4] = type
  sector.writeUInt32LE(firstLba >>> 0, at + 8)
  sector.writeUInt32LE(sectors >>> 0, at + 12)
}

/** Puts an extended partition in MBR slot 4 and writes an EBR chain of `shape` into it. */
function ebrChain(image: Buffer, shape: Extract<ImageMutation, { op: 'ebrChain' }>['shape'], length: number): void {
  if (image.length < 64 * 1024) return
  const sectors = Math.floor(image.length / SECTOR)
  // The extended partition takes the last quarter of the image (past anything else the base uses).
  const extStart = Math.floor((sectors * 3) / 4)
  const extSize = sectors - extStart - 1
  image.writeUInt16LE(0xaa55, 510)
  writeMbrEntry(image, 0, 3, 0x05, extStart, extSize)
  const maxEbrs = Math.max(1, Math.min(length, Math.floor(extSize / 2) - 1))
  for (let k = 0; k < maxEbrs; k++) {
    const ebr = (extStart + k * 2) * SECTOR
    image.fill(0, ebr, ebr + SECTOR)
    image.writeUInt16LE(0xaa55, ebr + 510)
    const huge = shape === 'huge-sizes'
    writeMbrEntry(image, ebr, 0, 0x83, huge ? 0xffffff00 : 1, huge ? 0xffffffff : 1)
    let next: number | undefined = k + 1 < maxEbrs ? (k + 1) * 2 : undefined
    if (shape === 'self-loop') next = k * 2
    if (shape === 'two-loop') next = k % 2 === 0 ? (k + 1) * 2 : (k - 1) * 2
    if (shape === 'backwards' && next === undefined) next = 0
    if (next !== undefined) writeMbrEntry(image, ebr, 1, shape === 'nested-extended' ? 0x0f : 0x05, next, 2)
    if (shape === 'nested-extended') writeMbrEntry(image, ebr, 2, 0x85, 0, extSize)
  }
}

function regionRange(image: Buffer, region: Region, at: number, fsOffsets: readonly number[]): [number, number] {
  switch (region) {
    case 'fs': {
      const start = fsOffsets[Math.min(fsOffsets.length - 1, Math.floor(at * fsOffsets.length))] ?? 0
      return [start, Math.min(start + 2048, image.length)]
    }
    case 'mbr':
      return [0, Math.min(SECTOR, image.length)]
    case 'gptHeader':
      return [SECTOR, Math.min(2 * SECTOR, image.length)]
    case 'gptEntries':
      return [2 * SECTOR, Math.min(34 * SECTOR, image.length)]
    case 'backupHeader':
      return [Math.max(0, image.length - SECTOR), image.length]
    case 'head':
      return [0, Math.min(64 * 1024, image.length)]
  }
}

/** Applies image mutations to a copy of `base` (whose file systems start at `fsOffsets`). */
export function mutateImage(base: Buffer, mutations: readonly ImageMutation[], fsOffsets: readonly number[] = []): Buffer {
  let image = Buffer.from(base)
  for (const m of mutations) {
    switch (m.op) {
      case 'flip':
      case 'set': {
        const [from, to] = regionRange(image, m.region, m.at, fsOffsets)
        if (to <= from) break
        // For 'fs' the fraction first picked the file system; reuse its remainder inside it.
        const within = m.region === 'fs' ? (m.at * Math.max(1, fsOffsets.length)) % 1 : m.at
        const at = from + Math.min(to - from - 1, Math.floor(within * (to - from)))
        image[at] = m.op === 'flip' ? (image[at] as number) ^ (1 << m.bit) : m.value
        break
      }
      case 'gptField': {
        const { at, size } = GPT_OFFSETS[m.field]
        for (const which of m.which === 'both' ? (['primary', 'backup'] as const) : [m.which]) {
          const header = headerAt(image, which)
          if (header < SECTOR || header + 92 > image.length) continue
          if (size === 8) image.writeBigUInt64LE(m.value & (2n ** 64n - 1n), header + at)
          else image.writeUInt32LE(Number(m.value & 0xffffffffn), header + at)
          if (m.fixCrc) resealGpt(image, which)
        }
        break
      }
      case 'gptEntry': {
        for (const which of ['primary', 'backup'] as const) {
          const header = headerAt(image, which)
          if (header < SECTOR || header + 92 > image.length || image.toString('latin1', header, header + 8) !== 'EFI PART') continue
          const entriesLba = image.readBigUInt64LE(header + 72)
          const entrySize = image.readUInt32LE(header + 84)
          const entry = Number(entriesLba) * SECTOR + m.index * entrySize
          if (entriesLba >= BigInt(Math.floor(image.length / SECTOR)) || entry + 128 > image.length) continue
          if (m.field === 'type') image.fill(m.value === 0n ? 0 : 0x41, entry, entry + 16)
          else image.writeBigUInt64LE(m.value & (2n ** 64n - 1n), entry + (m.field === 'first' ? 32 : 40))
          if (m.fixCrc) resealGpt(image, which)
        }
        break
      }
      case 'mbrEntry': {
        if (image.length < SECTOR) break
        const at = 446 + m.slot * 16
        if (m.field === 'status') image[at] = m.value & 0xff
        else if (m.field === 'type') image[at + 4] = m.value & 0xff
        else image.writeUInt32LE(m.value >>> 0, at + (m.field === 'firstLba' ? 8 : 12))
        image.writeUInt16LE(0xaa55, 510)
        break
      }
      case 'ebrChain':
        ebrChain(image, m.shape, m.length)
        break
      case 'truncate':
        image = image.subarray(0, Math.floor(m.at * image.length))
        break
    }
  }
  return image
}
