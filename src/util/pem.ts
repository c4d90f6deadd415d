// PEM (RFC 7468) reading and writing. Reading is tolerant of what secrets stores and copy-paste do
// to PEM text (CRLF, indentation, everything on one line, literal "\n" escapes, explanatory text
// around blocks) but strict inside a block, and its errors never quote the text: it may be a key.
import { InputError, type CredbakeError, type ErrorDetails } from '../errors.js'

export interface PemBlock {
  /** The label between BEGIN and END, e.g. "CERTIFICATE", "ENCRYPTED PRIVATE KEY". */
  label: string
  der: Buffer
  /** RFC 1421 headers (Proc-Type, DEK-Info of legacy encrypted keys); usually empty. */
  headers: Record<string, string>
  /** 1-based line of the BEGIN line in the (normalised) text, for messages. */
  line: number
}

/** Where PEM text came from: structurally a subset of settings' PemSource. */
export interface PemOrigin {
  /** The input name, e.g. "fleet-ca-cert". */
  input: string
  /** "input fleet-ca-cert" or the path the text was read from. */
  origin: string
}

export type ErrorClass = new (message: string, details?: ErrorDetails) => CredbakeError

const BLOCK = /-----BEGIN ([A-Z0-9][A-Z0-9 #]*)-----([\s\S]*?)-----END ([A-Z0-9][A-Z0-9 #]*)-----/g
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/** "input fleet-ca-key" or "input fleet-ca-key (file /path/key.pem)". */
export function describeOrigin(source: PemOrigin): string {
  return source.origin === `input ${source.input}` ? source.origin : `input ${source.input} (file ${source.origin})`
}

/**
 * Every PEM block in `text`, in order. Throws `errorClass` (default InputError) naming the input
 * when there is no block, a block is cut off, or a block body is not base64.
 */
export function parsePem(text: string, source: PemOrigin, errorClass: ErrorClass = InputError): PemBlock[] {
  const blocks = readPemBlocks(text)
  if ('problem' in blocks) throw new errorClass(`${describeOrigin(source)}: ${blocks.problem}`, { input: source.input })
  return blocks
}

/** parsePem without an origin: the blocks, or a sentence saying what is wrong (callers word the error). */
export function readPemBlocks(text: string): PemBlock[] | { problem: string } {
  const normalised = normaliseNewlines(text)
  const blocks: PemBlock[] = []
  let consumedUpTo = 0
  // Lines are counted on from the previous block, so a bundle of 100,000 blocks reads in one pass.
  let counted = { index: 0, line: 1 }
  for (const match of normalised.matchAll(BLOCK)) {
    const [whole, label = '', body = '', endLabel = ''] = match
    const start = match.index
    counted = { index: start, line: counted.line + newlinesBetween(normalised, counted.index, start) }
    const line = counted.line
    // A BEGIN between the previous block and this one never found its END.
    if (normalised.slice(consumedUpTo, start).includes('-----BEGIN ')) {
      return { problem: `a PEM block before line ${line} has no matching -----END ...----- line (truncated text?)` }
    }
    if (body.includes('-----BEGIN ')) return { problem: `the ${label} block at line ${line} has no -----END ${label}----- line (truncated text?)` }
    if (endLabel !== label) return { problem: `the block at line ${line} begins as ${label} but ends as ${endLabel}` }
    const decoded = decodeBody(body)
    if (!decoded) return { problem: `the ${label} block at line ${line} is not valid base64` }
    blocks.push({ label, line, ...decoded })
    consumedUpTo = start + whole.length
  }
  if (normalised.slice(consumedUpTo).includes('-----BEGIN ')) return { problem: 'a PEM block has no -----END ...----- line (truncated text?)' }
  if (blocks.length === 0) return { problem: noBlockReason(normalised) }
  return blocks
}

/** PEM text of one block: 64-column base64 lines and a final newline (RFC 7468 "strict"). */
export function toPem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64')
  const lines: string[] = [`-----BEGIN ${label}-----`]
  for (let offset = 0; offset < base64.length; offset += 64) lines.push(base64.slice(offset, offset + 64))
  lines.push(`-----END ${label}-----`, '')
  return lines.join('\n')
}

/** Labels of the blocks, for messages like "holds a PRIVATE KEY, expected a CERTIFICATE". */
export function labelsOf(blocks: PemBlock[]): string {
  return [...new Set(blocks.map((block) => block.label))].join(', ')
}

function normaliseNewlines(text: string): string {
  // A PEM pasted into a single-line secret or env var often arrives with literal "\n" escapes.
  const unescaped = !text.includes('\n') && text.includes('\\n') ? text.replace(/\\r\\n|\\n/g, '\n') : text
  return unescaped.replace(/\r\n?/g, '\n')
}

function decodeBody(body: string): { der: Buffer; headers: Record<string, string> } | undefined {
  const headers: Record<string, string> = {}
  const base64Lines: string[] = []
  for (const rawLine of body.split('\n')) {
    const line = rawLine.trim()
    if (line.length === 0) continue
    const colon = line.indexOf(':')
    // Header lines only occur before the base64 ("Proc-Type: 4,ENCRYPTED"); base64 has no colon.
    if (colon > 0 && base64Lines.length === 0) headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim()
    else base64Lines.push(line)
  }
  const base64 = base64Lines.join('').replace(/\s+/g, '')
  if (base64.length === 0 || base64.length % 4 !== 0 || !BASE64.test(base64)) return undefined
  return { der: Buffer.from(base64, 'base64'), headers }
}

/** Newlines in text[from, to). */
function newlinesBetween(text: string, from: number, to: number): number {
  let count = 0
  for (let i = text.indexOf('\n', from); i !== -1 && i < to; i = text.indexOf('\n', i + 1)) count += 1
  return count
}

function noBlockReason(text: string): string {
  if (text.trim().length === 0) return 'is empty; expected PEM text (-----BEGIN ...-----)'
  // Binary (DER) content: describe it without quoting any of it.
  if (/[\u0000-\u0008\u000e-\u001f]/.test(text)) {
    return 'holds binary data, not PEM; convert DER with `openssl x509 -inform der` or `openssl pkey -inform der`'
  }
  if (text.includes('-----BEGIN')) return 'has a -----BEGIN line that is not a well-formed PEM header'
  return 'holds no PEM block (-----BEGIN ...-----); give the PEM text or the path of a PEM file'
}
