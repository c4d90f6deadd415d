// The entries of a tar archive held in memory (a decompressed overlay of a few KiB): POSIX ustar
// headers, pax 'x' records (path, linkpath, size, uid, gid) and GNU long names, each header's
// checksum checked. Nothing is copied: contents are views of the archive. Stricter and far cheaper
// per archive than a stream extractor, and nothing in it can make verify write a file.

const BLOCK = 512

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other'

export interface TarEntry {
  /** Device path: "/var/sota/import/pkey.pem", folders without their trailing slash ("/" for "./"). */
  path: string
  type: TarEntryType
  /** The type flag as written, for messages about "other" entries. */
  flag: string
  mode: number
  uid: number
  gid: number
  content: Buffer
  linkTarget?: string
}

export class TarFormatError extends Error {}

function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length)
  const end = field.indexOf(0)
  return field.toString('utf8', 0, end === -1 ? length : end)
}

function number(block: Buffer, start: number, length: number, what: string): number {
  const first = block[start] as number
  // GNU base-256: the first byte's top bit set.
  if (first & 0x80) {
    let value = first & 0x7f
    for (let i = start + 1; i < start + length; i++) value = value * 256 + (block[i] as number)
    if (!Number.isSafeInteger(value)) throw new TarFormatError(`its ${what} field is out of range`)
    return value
  }
  // Octal digits, with leading spaces and a trailing NUL or space.
  let value = 0
  let i = start
  const end = start + length
  while (i < end && block[i] === 0x20) i++
  let digits = 0
  for (; i < end; i++) {
    const c = block[i] as number
    if (c >= 0x30 && c <= 0x37) {
      value = value * 8 + (c - 0x30)
      digits++
    } else break
  }
  for (; i < end; i++) {
    const c = block[i] as number
    if (c !== 0 && c !== 0x20) throw new TarFormatError(`its ${what} field is not an octal number`)
  }
  return digits === 0 ? 0 : value
}

function checksumOk(block: Buffer): boolean {
  const recorded = number(block, 148, 8, 'checksum')
  // The sum of the header's bytes with the checksum field read as eight spaces.
  let unsigned = 8 * 0x20
  for (let i = 0; i < 148; i++) unsigned += block[i] as number
  for (let i = 156; i < BLOCK; i++) unsigned += block[i] as number
  if (recorded === unsigned) return true
  // Some old writers summed signed bytes.
  let signed = 8 * 0x20
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue
    const byte = block[i] as number
    signed += byte > 127 ? byte - 256 : byte
  }
  return recorded === signed
}

/** "key=value" records of a pax extended header. */
function paxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>()
  let at = 0
  while (at < data.length) {
    const space = data.indexOf(0x20, at)
    if (space === -1) throw new TarFormatError('a pax record has no length')
    const length = Number(data.toString('latin1', at, space))
    if (!Number.isInteger(length) || length <= 0 || at + length > data.length) throw new TarFormatError('a pax record has a bad length')
    const record = data.toString('utf8', space + 1, at + length - 1)
    const equals = record.indexOf('=')
    if (equals === -1) throw new TarFormatError('a pax record has no "="')
    records.set(record.slice(0, equals), record.slice(equals + 1))
    at += length
  }
  return records
}

function zeros(bytes: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false
  return true
}

export function devicePath(name: string): string {
  // The usual names ("var/sota/import/", "var/sota/import/pkey.pem") without splitting them.
  if (!name.startsWith('/') && !name.startsWith('.') && !name.includes('//') && !name.includes('/./') && !name.includes('/../')) {
    return `/${name.endsWith('/') ? name.slice(0, -1) : name}`
  }
  const parts = name.split('/').filter((part) => part !== '' && part !== '.')
  return `/${parts.join('/')}`
}

const TYPES: Record<string, TarEntryType> = { '0': 'file', '\0': 'file', '7': 'file', '5': 'directory', '2': 'symlink', '1': 'hardlink' }

/** Every entry of `archive`, in order. Throws TarFormatError when it is not a tar archive. */
export function tarEntries(archive: Buffer): TarEntry[] {
  const entries: TarEntry[] = []
  let pax: Map<string, string> | undefined
  let longName: string | undefined
  let longLink: string | undefined
  let at = 0
  for (;;) {
    if (at + BLOCK > archive.length) {
      // An archive ends with zero blocks; GNU tar and others accept one that just stops.
      if (zeros(archive, at, archive.length)) break
      throw new TarFormatError('it ends inside a header')
    }
    const header = archive.subarray(at, at + BLOCK)
    if (header[0] === 0 && zeros(archive, at, at + BLOCK)) break
    if (!checksumOk(header)) throw new TarFormatError(`the header at byte ${at} has a wrong checksum`)
    const flag = String.fromCharCode(header[156] as number)
    const size = number(header, 124, 12, 'size')
    const dataStart = at + BLOCK
    const dataEnd = dataStart + size
    if (dataEnd > archive.length) throw new TarFormatError(`the entry at byte ${at} runs past the end of the archive`)
    const data = archive.subarray(dataStart, dataEnd)
    at = dataStart + Math.ceil(size / BLOCK) * BLOCK
    if (flag === 'x') {
      pax = paxRecords(data)
      continue
    }
    if (flag === 'g') continue
    if (flag === 'L' || flag === 'K') {
      const value = data.toString('utf8').replace(/\0+$/, '')
      if (flag === 'L') longName = value
      else longLink = value
      continue
    }
    const magic = header.toString('latin1', 257, 262)
    const prefix = magic === 'ustar' ? text(header, 345, 155) : ''
    const name = pax?.get('path') ?? longName ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100))
    const linkTarget = pax?.get('linkpath') ?? longLink ?? text(header, 157, 100)
    const paxNumber = (key: string, fallback: number): number => {
      const value = pax?.get(key)
      return value !== undefined && /^\d+$/.test(value) ? Number(value) : fallback
    }
    const type = TYPES[flag] ?? 'other'
    entries.push({
      path: devicePath(name),
      type,
      flag,
      mode: number(header, 100, 8, 'mode') & 0o7777,
      uid: paxNumber('uid', number(header, 108, 8, 'uid')),
      gid: paxNumber('gid', number(header, 116, 8, 'gid')),
      content: data,
      ...(type === 'symlink' || type === 'hardlink' ? { linkTarget } : {})
    })
    pax = undefined
    longName = undefined
    longLink = undefined
  }
  return entries
}
