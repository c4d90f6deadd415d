// OTA Connect's credentials.zip (input credentials-zip): only two values are taken from it, the
// server CA that devices trust (root.crt) and the device gateway URL (gateway.url), the same two
// that aktualizr-cert-provider takes with -r/-u:
// - server_ca.pem, or, when the zip has none, the CA certificates of autoprov_credentials.p12;
// - autoprov.url.
// Nothing else is read, used or written: the zip also holds private keys (the p12's client key,
// targets signing keys), and those are never decrypted or copied.
//
// Why a reader of its own (end of central directory, central directory, local headers; stored and
// deflated entries through node:zlib, CRC-32 by zlib.crc32): the zip is untrusted input, and what
// makes reading it safe is the checks, not the parsing. The sizes in its headers are never trusted
// (inflation stops at 1 MiB), names with `..`, absolute paths or backslashes and duplicate names
// refuse the whole zip, encrypted entries are refused, and CRCs are checked. The libraries
// considered do not do these: fflate 0.8's unzipSync inflates into a buffer of the declared size
// and checks neither CRC-32 nor the encryption flag, and keeps the last of two entries of one
// name; yauzl 3 checks no CRC-32 either and is callback-based, while the settings are parsed
// synchronously. With either, the same checks would still be written here on top of a second
// reading of the central directory. The zip is a few KiB, read once per run (92 µs, measured).
//
// The PKCS#12 file is read with the openssl CLI (`openssl pkcs12 -nokeys -cacerts`, the p12 on
// stdin, never on disk): the certificate bags of real p12 files are encrypted with PBES2/AES
// (OpenSSL 3), 3DES or RC2-40 (OpenSSL 1.x, which Node's crypto cannot decrypt without OpenSSL's
// legacy provider), and openssl handles all of them (RC2 with -legacy). With -nokeys it skips
// the shrouded key bags without decrypting them. OTA Connect's p12 has an empty password.
import { spawnSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { crc32, inflateRawSync } from 'node:zlib'
import { InputError, messageOf } from '../errors.js'
import { INPUT_LIMITS, readBoundedSync, whyUnreadable } from '../util/bounded-read.js'
import { escapeText } from '../util/log-text.js'
import { readPemBlocks, toPem } from '../util/pem.js'
import type { PemSource } from './types.js'

const INPUT = 'credentials-zip'
export const SERVER_CA_ENTRY = 'server_ca.pem'
export const GATEWAY_URL_ENTRY = 'autoprov.url'
export const P12_ENTRY = 'autoprov_credentials.p12'

/** Largest zip accepted: OTA Connect's are a few KiB. */
export const MAX_ZIP_BYTES = INPUT_LIMITS.credentialsZip
/** Largest entry read (uncompressed). */
export const MAX_ENTRY_BYTES = 1 << 20
/** Highest compression ratio accepted for an entry that inflates to more than 64 KiB. */
const MAX_RATIO = 200
const MAX_ENTRIES = 4096

export interface ZipCredentials {
  serverCa?: PemSource
  gatewayUrl?: string
}

export interface ZipEntry {
  name: string
  method: number
  flags: number
  crc: number
  compressedSize: number
  size: number
  localOffset: number
}

function fail(zip: string, message: string, cause?: unknown): InputError {
  return new InputError(`Input "${INPUT}" (${escapeText(zip)}): ${message}`, { input: INPUT, file: zip, ...(cause ? { cause } : {}) })
}

/**
 * Read what `need` asks for from the zip at `zip`. The zip is always checked (a corrupt or hostile
 * zip is refused even when explicit inputs make its entries unnecessary); a missing entry is an
 * error only when it is needed.
 */
export function readCredentialsZip(zip: string, need: { serverCa: boolean; gatewayUrl: boolean }): ZipCredentials {
  let bytes: Buffer
  try {
    // Opened without blocking and checked with fstat: a FIFO or a device is refused, not waited on.
    bytes = readBoundedSync(zip, { maxBytes: MAX_ZIP_BYTES, what: "a credentials.zip (OTA Connect's are a few KiB)" })
  } catch (error) {
    throw fail(zip, `cannot read it: ${whyUnreadable(error)}.`, error)
  }
  const entries = readCentralDirectory(bytes, zip)
  const find = (name: string): ZipEntry | undefined => entries.find((entry) => entry.name === name)

  const result: ZipCredentials = {}
  if (need.gatewayUrl) {
    const entry = find(GATEWAY_URL_ENTRY)
    if (!entry) throw fail(zip, `it holds no ${GATEWAY_URL_ENTRY} (the device gateway URL); give gateway-url instead.`)
    result.gatewayUrl = gatewayUrlOf(readEntry(bytes, entry, zip), zip)
  }
  if (need.serverCa) {
    const pem = find(SERVER_CA_ENTRY)
    const p12 = find(P12_ENTRY)
    if (pem) {
      result.serverCa = { input: INPUT, text: readEntry(bytes, pem, zip).toString('utf8'), origin: `${zip} (entry ${SERVER_CA_ENTRY})` }
    } else if (p12) {
      result.serverCa = { input: INPUT, text: caCertificatesOfP12(readEntry(bytes, p12, zip), zip), origin: `${zip} (CA certificates of ${P12_ENTRY})` }
    } else {
      throw fail(zip, `it holds neither ${SERVER_CA_ENTRY} nor ${P12_ENTRY} (the server CA for root.crt); give server-ca instead.`)
    }
  }
  return result
}

/** The entries of the central directory; refuses the zip on anything malformed or unsafe. */
export function readCentralDirectory(bytes: Buffer, zip: string): ZipEntry[] {
  const corrupt = (what: string): InputError => fail(zip, `not a valid zip file (${what}).`)
  // End of central directory: 22 bytes plus a comment of up to 65,535, at the very end.
  let eocd = -1
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff); at--) {
    if (bytes.readUInt32LE(at) === 0x06054b50 && at + 22 + bytes.readUInt16LE(at + 20) === bytes.length) {
      eocd = at
      break
    }
  }
  if (eocd < 0) throw corrupt('no end of central directory record')
  const disk = bytes.readUInt16LE(eocd + 4)
  const count = bytes.readUInt16LE(eocd + 10)
  const cdSize = bytes.readUInt32LE(eocd + 12)
  const cdOffset = bytes.readUInt32LE(eocd + 16)
  if (count === 0xffff || cdOffset === 0xffffffff || cdSize === 0xffffffff) throw corrupt('ZIP64, which no credentials.zip needs')
  if (disk !== 0) throw corrupt('a multi-part zip')
  if (count > MAX_ENTRIES) throw corrupt(`${count} entries`)
  if (cdOffset + cdSize > eocd) throw corrupt('the central directory lies outside the file')

  const entries: ZipEntry[] = []
  const names = new Set<string>()
  let at = cdOffset
  for (let i = 0; i < count; i++) {
    if (at + 46 > cdOffset + cdSize || bytes.readUInt32LE(at) !== 0x02014b50) throw corrupt(`central directory entry ${i + 1} is damaged`)
    const flags = bytes.readUInt16LE(at + 8)
    const method = bytes.readUInt16LE(at + 10)
    const crc = bytes.readUInt32LE(at + 16)
    const compressedSize = bytes.readUInt32LE(at + 20)
    const size = bytes.readUInt32LE(at + 24)
    const nameLength = bytes.readUInt16LE(at + 28)
    const extraLength = bytes.readUInt16LE(at + 30)
    const commentLength = bytes.readUInt16LE(at + 32)
    const localOffset = bytes.readUInt32LE(at + 42)
    const end = at + 46 + nameLength + extraLength + commentLength
    if (end > cdOffset + cdSize) throw corrupt(`central directory entry ${i + 1} is damaged`)
    const rawName = bytes.subarray(at + 46, at + 46 + nameLength)
    // Bit 11: UTF-8 names; otherwise CP437, whose ASCII part is all a safe name can hold anyway.
    const name = rawName.toString(flags & 0x800 ? 'utf8' : 'latin1')
    checkName(name, zip)
    if (names.has(name)) throw fail(zip, `it holds "${name}" twice; refusing an ambiguous zip.`)
    names.add(name)
    entries.push({ name, method, flags, crc, compressedSize, size, localOffset })
    at = end
  }
  return entries
}

function checkName(name: string, zip: string): void {
  const shown = JSON.stringify(name)
  if (name === '' || /[\u0000-\u001f]/.test(name)) throw fail(zip, `an entry has an empty name or control characters; refusing the zip.`)
  if (name.startsWith('/') || name.includes('\\') || /^[A-Za-z]:/.test(name)) {
    throw fail(zip, `entry ${shown} has an absolute path or a backslash; refusing the zip.`)
  }
  if (name.split('/').includes('..')) throw fail(zip, `entry ${shown} has a ".." path component; refusing the zip.`)
}

/** The uncompressed bytes of `entry`, at most MAX_ENTRY_BYTES, CRC-checked. */
export function readEntry(bytes: Buffer, entry: ZipEntry, zip: string): Buffer {
  const corrupt = (what: string): InputError => fail(zip, `entry ${entry.name} is damaged (${what}).`)
  if (entry.flags & 0x1) throw fail(zip, `entry ${entry.name} is encrypted; credbake reads only unencrypted entries.`)
  const at = entry.localOffset
  if (at + 30 > bytes.length || bytes.readUInt32LE(at) !== 0x04034b50) throw corrupt('no local header where the central directory says')
  const dataStart = at + 30 + bytes.readUInt16LE(at + 26) + bytes.readUInt16LE(at + 28)
  const dataEnd = dataStart + entry.compressedSize
  if (dataEnd > bytes.length) throw corrupt('its data runs past the end of the file')
  const data = bytes.subarray(dataStart, dataEnd)
  const tooBig = (): InputError => fail(zip, `entry ${entry.name} inflates to more than ${MAX_ENTRY_BYTES} bytes; it cannot be OTA Connect's (a zip bomb?). Refusing the zip.`)
  let content: Buffer
  if (entry.method === 0) {
    if (entry.compressedSize > MAX_ENTRY_BYTES) throw tooBig()
    content = Buffer.from(data)
  } else if (entry.method === 8) {
    try {
      // Stop at the cap whatever the headers claim.
      content = inflateRawSync(data, { maxOutputLength: MAX_ENTRY_BYTES })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) throw tooBig()
      throw corrupt(`deflate data: ${messageOf(error)}`)
    }
    if (content.length > 64 << 10 && content.length > data.length * MAX_RATIO) {
      throw fail(
        zip,
        `entry ${entry.name} inflates ${Math.round(content.length / Math.max(1, data.length))} times its size; it cannot be OTA Connect's (a zip bomb?). Refusing the zip.`
      )
    }
  } else {
    throw fail(zip, `entry ${entry.name} uses compression method ${entry.method}; only stored and deflated entries are read.`)
  }
  if (content.length !== entry.size) throw corrupt(`${content.length} bytes where the central directory says ${entry.size}`)
  if (crc32(content) !== entry.crc) throw corrupt('CRC-32 mismatch')
  return content
}

function gatewayUrlOf(content: Buffer, zip: string): string {
  const value = content.toString('utf8').trim()
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw fail(zip, `its ${GATEWAY_URL_ENTRY} is not a URL.`)
  }
  if (url.protocol !== 'https:') {
    throw fail(
      zip,
      `its ${GATEWAY_URL_ENTRY} must be an https URL; got "${value}". aktualizr connects to the device gateway with mutual TLS, presenting the device certificate in the TLS handshake: over ${url.protocol.replace(/:$/, '')} the device would never authenticate. Give gateway-url to override it.`
    )
  }
  return value
}

/**
 * The CA certificates (not the client certificate) of a PKCS#12 file with an empty password, as
 * PEM. The p12 goes to openssl on stdin; its key bags are never decrypted (-nokeys).
 */
function caCertificatesOfP12(p12: Buffer, zip: string): string {
  const run = (legacy: boolean): { ok: boolean; stdout: string; stderr: string; missing: boolean } => {
    const result = spawnSync('openssl', ['pkcs12', ...(legacy ? ['-legacy'] : []), '-nokeys', '-cacerts', '-passin', 'pass:'], {
      input: p12,
      encoding: 'buffer',
      maxBuffer: 4 << 20,
      timeout: 30_000
    })
    const missing = (result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
    return { ok: result.status === 0, stdout: result.stdout?.toString('utf8') ?? '', stderr: result.stderr?.toString('utf8') ?? '', missing }
  }
  let result = run(false)
  if (result.missing) {
    throw fail(zip, `it has no ${SERVER_CA_ENTRY}, and reading the CA of ${P12_ENTRY} needs the openssl command, which is not on PATH. Install openssl or give server-ca.`)
  }
  // RC2-40 certificate bags (p12 files made by OpenSSL 1.x) need OpenSSL 3's legacy provider.
  if (!result.ok && /unsupported|RC2|legacy/i.test(result.stderr)) {
    const legacy = run(true)
    if (legacy.ok) result = legacy
  }
  if (!result.ok) {
    const why = /mac verify|invalid password|password/i.test(result.stderr)
      ? "it is protected by a password (OTA Connect's has none)"
      : /asn1|decod|header|wrong tag|not enough data/i.test(result.stderr)
        ? 'it is not a valid PKCS#12 file'
        : 'openssl could not read it'
    throw fail(zip, `it has no ${SERVER_CA_ENTRY}, and its ${P12_ENTRY} cannot be read: ${why}. Give server-ca instead.`)
  }
  const blocks = readPemBlocks(result.stdout)
  const certificates = 'problem' in blocks ? [] : blocks.filter((block) => block.label === 'CERTIFICATE')
  if (certificates.length === 0) {
    throw fail(zip, `it has no ${SERVER_CA_ENTRY}, and its ${P12_ENTRY} holds no CA certificate (only the client certificate). Give server-ca instead.`)
  }
  for (const block of certificates) {
    try {
      new X509Certificate(block.der)
    } catch (error) {
      throw fail(zip, `a CA certificate in its ${P12_ENTRY} is not a valid X.509 certificate (${messageOf(error)}).`)
    }
  }
  return certificates.map((block) => toPem('CERTIFICATE', block.der)).join('')
}
