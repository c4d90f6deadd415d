// The review's second pass, read in place: the fields of issued and written records taken from
// the journal line as JSON text (what JSON.stringify wrote), and the manifest's device entry
// put together from them, the same text `JSON.stringify(deviceEntry(...), null, 2)` gives but
// without parsing either record or building the entry. A line laid out otherwise, or an output
// with a partition or bmap, goes through the parsed records instead (see from-journal.ts).
import { AT, BASIS, CERTIFICATE, CERTIFICATE_SHA256, FieldCursor, ISSUED, OUTPUT, SERIAL, SHA256, SIZE, WRITTEN, bytesOf } from '../journal/fields.js'
import type { JournalLine } from '../journal/journal.js'
import type { IssuedRecord } from '../journal/records.js'

/** An issued certificate waiting for its output, its fields as JSON text. */
export interface IssuedText {
  serial: string
  sha256: string
  at: string
  deviceId: string
  serialNumber: string
  subject: string
  publicKeySha256: string
  notBefore: string
  notAfter: string
  keySource: string
  /** JSON text of the subjectAltName text, when the record has one. */
  san?: string
  pem: string
  /** Every field ASCII (the entry and PEM can be written as latin1, which is cheaper). */
  ascii: boolean
}

export interface WrittenText {
  serial: string
  certificateSha256: string
  path: string
  size: string
  sha256: string
  ascii: boolean
  /** `partitionPath` only where the file is stored elsewhere than its device path (OSTree). */
  files: Array<{ path: string; mode: string; owner: string; sha256: string; size: string; secret: boolean; partitionPath?: string }>
}

/** The value of a JSON text made by `token()`. */
export function valueOf(json: string): string {
  return json.charCodeAt(0) === 0x22 && !json.includes('\\') ? json.slice(1, -1) : (JSON.parse(json) as string)
}

const cursor = new FieldCursor()
const BASIS_DEVICE_ID = bytesOf(',"basis":{"deviceId":')
const SUBJECT = bytesOf(',"subject":')
const PUBLIC_KEY = bytesOf(',"publicKeySha256":')
const NOT_BEFORE = bytesOf(',"notBefore":')
const NOT_AFTER = bytesOf(',"notAfter":')
const KEY_SOURCE = bytesOf(',"keySource":')
const SAN = bytesOf(',"san":')
const PEM = bytesOf(',"pem":')
const FILES = bytesOf('},"files":[')
const FILE_PATH = bytesOf('{"path":')
const MODE = bytesOf(',"mode":')
const OWNER = bytesOf(',"owner":')
const SECRET = bytesOf(',"secret":')
const PARTITION_PATH = bytesOf(',"partitionPath":')
const TRUE = bytesOf('true')
const FALSE = bytesOf('false')

const isString = (json: string | undefined): json is string => json !== undefined && json.charCodeAt(0) === 0x22
const isStringOrNull = (json: string | undefined): json is string => json !== undefined && (json === 'null' || json.charCodeAt(0) === 0x22)
const isInteger = (json: string | undefined): json is string => json !== undefined && json.charCodeAt(0) >= 0x30 && json.charCodeAt(0) <= 0x39

/** An issued line's fields in place; undefined when it is laid out otherwise. */
export function issuedText(line: JournalLine): IssuedText | undefined {
  const c = cursor.on(line)
  let at, serial, deviceId, serialNumber, sha256, subject, publicKeySha256, notBefore, notAfter, keySource, san: string | undefined
  let pem: string | undefined
  if (
    !(
      c.literal(ISSUED) &&
      c.skip() &&
      c.literal(AT) &&
      isString((at = c.token())) &&
      c.literal(SERIAL) &&
      isString((serial = c.token())) &&
      c.literal(BASIS_DEVICE_ID) &&
      isString((deviceId = c.token())) &&
      c.skipRestOfObject() &&
      c.literal(CERTIFICATE) &&
      isString((serialNumber = c.token())) &&
      c.literal(SHA256) &&
      isString((sha256 = c.token())) &&
      c.literal(SUBJECT) &&
      isString((subject = c.token())) &&
      c.literal(PUBLIC_KEY) &&
      isString((publicKeySha256 = c.token())) &&
      c.literal(NOT_BEFORE) &&
      isString((notBefore = c.token())) &&
      c.literal(NOT_AFTER) &&
      isString((notAfter = c.token())) &&
      c.literal(KEY_SOURCE) &&
      isString((keySource = c.token())) &&
      (!c.literal(SAN) || isString((san = c.token()))) &&
      c.literal(PEM) &&
      (pem = c.string()) !== undefined &&
      c.byte(0x7d)
    )
  ) {
    return undefined
  }
  return {
    serial: valueOf(serial!),
    sha256: valueOf(sha256!),
    at: at!,
    deviceId: deviceId!,
    serialNumber: serialNumber!,
    subject: subject!,
    publicKeySha256: publicKeySha256!,
    notBefore: notBefore!,
    notAfter: notAfter!,
    keySource: keySource!,
    ...(san !== undefined ? { san } : {}),
    pem,
    ascii: c.ascii
  }
}

/** An issued line's certificate SHA-256, read in place; undefined when laid out otherwise. */
export function issuedKey(line: JournalLine): string | undefined {
  const c = cursor.on(line)
  if (
    c.literal(ISSUED) &&
    c.skip() &&
    c.literal(AT) &&
    c.skip() &&
    c.literal(SERIAL) &&
    c.skip() &&
    c.literal(BASIS) &&
    c.skip() &&
    c.literal(CERTIFICATE) &&
    c.skip() &&
    c.literal(SHA256)
  ) {
    return c.string()
  }
  return undefined
}

/** The same from a parsed record. Undefined when a field is not a string. */
export function issuedTextOf(record: IssuedRecord): IssuedText | undefined {
  const c = record.certificate
  const fields = [record.at, record.serial, record.basis?.deviceId, c?.serialNumber, c?.sha256, c?.subject, c?.publicKeySha256, c?.notBefore, c?.notAfter, c?.keySource, c?.pem]
  if (!fields.every((field) => typeof field === 'string')) return undefined
  if (c.san !== undefined && typeof c.san !== 'string') return undefined
  const q = JSON.stringify
  return {
    serial: record.serial,
    sha256: c.sha256,
    at: q(record.at),
    deviceId: q(record.basis.deviceId),
    serialNumber: q(c.serialNumber),
    subject: q(c.subject),
    publicKeySha256: q(c.publicKeySha256),
    notBefore: q(c.notBefore),
    notAfter: q(c.notAfter),
    keySource: q(c.keySource),
    ...(c.san !== undefined ? { san: q(c.san) } : {}),
    pem: c.pem,
    ascii: false
  }
}

/** An issued record again, from its text: for the superseded list and the summary's first devices. */
export function issuedRecordOf(text: IssuedText): IssuedRecord {
  return {
    type: 'issued',
    run: '',
    at: valueOf(text.at),
    serial: text.serial,
    basis: { deviceId: valueOf(text.deviceId), subject: '', sanSha256: null, csrSha256: null },
    certificate: {
      serialNumber: valueOf(text.serialNumber),
      sha256: text.sha256,
      subject: valueOf(text.subject),
      publicKeySha256: valueOf(text.publicKeySha256),
      notBefore: valueOf(text.notBefore),
      notAfter: valueOf(text.notAfter),
      keySource: valueOf(text.keySource) as IssuedRecord['certificate']['keySource'],
      ...(text.san !== undefined ? { san: valueOf(text.san) } : {}),
      pem: text.pem
    }
  }
}

/** A written line's fields in place; undefined when laid out otherwise (or with a partition or bmap). */
export function writtenText(line: JournalLine): WrittenText | undefined {
  const c = cursor.on(line)
  let serial, certificateSha256, path, size, sha256: string | undefined
  if (
    !(
      c.literal(WRITTEN) &&
      c.skip() &&
      c.literal(AT) &&
      c.skip() &&
      c.literal(SERIAL) &&
      isString((serial = c.token())) &&
      c.literal(CERTIFICATE_SHA256) &&
      isString((certificateSha256 = c.token())) &&
      c.literal(OUTPUT) &&
      isString((path = c.token())) &&
      c.literal(SIZE) &&
      isInteger((size = c.token())) &&
      c.literal(SHA256) &&
      isString((sha256 = c.token())) &&
      c.literal(FILES)
    )
  ) {
    return undefined
  }
  const files: WrittenText['files'] = []
  if (!c.byte(0x5d)) {
    do {
      let filePath, mode, owner, fileSha256, fileSize: string | undefined
      if (
        !(
          c.literal(FILE_PATH) &&
          isString((filePath = c.token())) &&
          c.literal(MODE) &&
          isStringOrNull((mode = c.token())) &&
          c.literal(OWNER) &&
          isStringOrNull((owner = c.token())) &&
          c.literal(SHA256) &&
          isStringOrNull((fileSha256 = c.token())) &&
          c.literal(SIZE) &&
          isInteger((fileSize = c.token())) &&
          c.literal(SECRET)
        )
      ) {
        return undefined
      }
      const secret = c.literal(TRUE)
      if (!secret && !c.literal(FALSE)) return undefined
      let partitionPath: string | undefined
      if (c.literal(PARTITION_PATH) && !isString((partitionPath = c.token()))) return undefined
      if (!c.byte(0x7d)) return undefined
      files.push({ path: filePath!, mode: mode!, owner: owner!, sha256: fileSha256!, size: fileSize!, secret, ...(partitionPath === undefined ? {} : { partitionPath }) })
    } while (c.byte(0x2c))
    if (!c.byte(0x5d)) return undefined
  }
  if (!c.byte(0x7d)) return undefined
  return { serial: valueOf(serial!), certificateSha256: valueOf(certificateSha256!), path: path!, size: size!, sha256: sha256!, files, ascii: c.ascii }
}

/** The manifest's device entry (indented as inside the devices list), from the two records' text. */
export function deviceEntryText(issued: IssuedText, written: WrittenText): string {
  let text =
    `{\n      "serial": ${JSON.stringify(issued.serial)},\n      "deviceId": ${issued.deviceId},\n      "certificate": {` +
    `\n        "serialNumber": ${issued.serialNumber},\n        "subject": ${issued.subject},${issued.san !== undefined ? `\n        "san": ${issued.san},` : ''}\n        "sha256": ${JSON.stringify(issued.sha256)},` +
    `\n        "publicKeySha256": ${issued.publicKeySha256},\n        "notBefore": ${issued.notBefore},\n        "notAfter": ${issued.notAfter},` +
    `\n        "keySource": ${issued.keySource}\n      },\n      "output": {\n        "path": ${written.path},\n        "size": ${written.size},` +
    `\n        "sha256": ${written.sha256}\n      },\n      "files": `
  const { files } = written
  if (files.length === 0) return `${text}[]\n    }`
  text += '['
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!
    text += `${i ? ',' : ''}\n        {\n          "path": ${file.path},${file.partitionPath === undefined ? '' : `\n          "partitionPath": ${file.partitionPath},`}\n          "mode": ${file.mode},\n          "owner": ${file.owner},`
    text += file.secret
      ? '\n          "privateKey": true\n        }'
      : `\n          "sha256": ${file.sha256 === 'null' ? '""' : file.sha256},\n          "size": ${file.size},\n          "privateKey": false\n        }`
  }
  return `${text}\n      ]\n    }`
}
