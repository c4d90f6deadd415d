// The fleet CA key on a PKCS#11 token or HSM: `fleet-ca-key: pkcs11:token=…;object=…` (RFC 7512).
// The module (shared library) comes from the URI's module-path or the pkcs11-module input; the PIN
// from fleet-ca-key-passphrase (or the URI's pin-value / pin-source). The private key never leaves
// the token.
//
// From the bundle, the module lives in a child process of its own: the same bundle started with
// CREDBAKE_ROLE=pkcs11-signer, speaking the exec: JSON-lines protocol on stdin/stdout (many requests
// in flight). There it logs in once and opens several sessions (4, or CREDBAKE_PKCS11_SESSIONS,
// bounded by the token's ulMaxSessionCount), each holding one sign operation at a time
// (C_SignInit, then C_Sign on libuv's thread pool through pkcs11js' C_SignCallback), so that
// signing keeps up with issuance. Why a process of its own: a PKCS#11 module loaded into the
// process that also issues crashed about one run in three under load, both with C_SignAsync and
// with the synchronous C_Sign. SoftHSM2 (and any module built on the system's libcrypto) binds its
// OpenSSL calls to the copy of OpenSSL inside node (node exports those symbols and comes first in
// the lookup), and SoftHSM2's C_Initialize installs its RDRAND engine as that OpenSSL's default
// random method while the issuing threads use it. In a process that only signs, nothing else uses
// node's OpenSSL concurrently, and a crash there is a FleetCaError, not a dead run.
//
// Native code: pkcs11js's Node-API addon. From the bundle it is loaded from
// dist/native/<platform>-<arch>/pkcs11.node (copied there by `npm run bundle`), under src/ from
// node_modules; a platform without a shipped binary gets a FleetCaError saying so.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { isCredbakeError, FleetCaError, messageOf } from '../errors.js'
import { SignerProcess } from './exec.js'
import { keyFacts, OID } from '../x509/algorithms.js'
import { bitString, contentsOf, decodeOid, oid, readSingle, sequence, TAG, unsignedInteger } from '../x509/der.js'
import { isPkcs11Uri, parsePkcs11Uri, type Pkcs11Uri } from './pkcs11-uri.js'
import type { CaSigner, SignerFactory, SignerOpenContext } from './types.js'
import type { HashName } from '../x509/algorithms.js'

/** The platforms `npm run bundle` ships a binary for (dist/native/<name>/pkcs11.node). */
export const SHIPPED_PLATFORMS = ['linux-x64'] as const

// ---- the part of the addon credbake uses ----------------------------------------------------------

type Handle = Buffer
interface Attribute {
  type: number
  value?: Buffer | number | boolean | string
}
interface NativePkcs11 {
  load(path: string): void
  C_Initialize(options?: { flags?: number }): void
  C_Finalize(): void
  C_GetInfo(): { manufacturerID: string; libraryDescription: string; libraryVersion: { major: number; minor: number } }
  C_GetSlotList(tokenPresent: boolean): Handle[]
  C_GetSlotInfo(slot: Handle): { slotDescription: string; manufacturerID: string }
  C_GetTokenInfo(slot: Handle): { label: string; manufacturerID: string; model: string; serialNumber: string; flags: number; maxSessionCount: number; sessionCount: number }
  C_OpenSession(slot: Handle, flags: number): Handle
  C_CloseSession(session: Handle): void
  C_Login(session: Handle, userType: number, pin?: string): void
  C_Logout(session: Handle): void
  C_FindObjectsInit(session: Handle, template: Attribute[]): void
  C_FindObjects(session: Handle, max: number): Handle[]
  C_FindObjectsFinal(session: Handle): void
  C_GetAttributeValue(session: Handle, object: Handle, template: Attribute[]): Array<{ type: number; value: Buffer }>
  C_SignInit(session: Handle, mechanism: { mechanism: number; parameter?: Buffer }, key: Handle): void
  C_Sign(session: Handle, data: Buffer, out: Buffer): number
  C_SignCallback(session: Handle, data: Buffer, out: Buffer, callback: (error: Error | null, length: number) => void): void
}
interface Binding {
  PKCS11: new () => NativePkcs11
}

// PKCS#11 constants (v2.40), as the specification numbers them.
const CKF_OS_LOCKING_OK = 0x2
const CKF_SERIAL_SESSION = 0x4
const CKU_USER = 1
const CKF_LOGIN_REQUIRED = 0x4
const CKF_USER_PIN_LOCKED = 0x40000
const CKO_PUBLIC_KEY = 2
const CKO_PRIVATE_KEY = 3
const CKA_CLASS = 0x0
const CKA_LABEL = 0x3
const CKA_ID = 0x102
const CKA_KEY_TYPE = 0x100
const CKA_MODULUS = 0x120
const CKA_PUBLIC_EXPONENT = 0x122
const CKA_EC_PARAMS = 0x180
const CKA_EC_POINT = 0x181
const CKK_RSA = 0
const CKK_EC = 3
const CKM_ECDSA = 0x1041
const CKM_RSA_MECHANISMS: Record<HashName, number> = { sha256: 0x40, sha384: 0x41, sha512: 0x42 }

let binding: Binding | undefined

/** The addon: from dist/native next to the bundle, or from node_modules when running src/. */
export function loadBinding(): Binding {
  if (binding) return binding
  const here = fileURLToPath(import.meta.url)
  const require = createRequire(import.meta.url)
  const platform = `${process.platform}-${process.arch}`
  let file: string
  if (here.endsWith('.ts')) {
    file = require.resolve('pkcs11js/build/Release/pkcs11.node')
  } else {
    file = path.join(path.dirname(here), 'native', platform, 'pkcs11.node')
    if (!existsSync(file)) {
      throw new FleetCaError(
        `fleet-ca-key: pkcs11: keys need credbake's native PKCS#11 binding, which this build ships for ${SHIPPED_PLATFORMS.join(', ')} only, ` +
          `not for ${platform} (no ${path.relative(path.dirname(here), file)} beside ${path.basename(here)}). Run the job on a ${SHIPPED_PLATFORMS.join('/')} runner, or use exec: or awskms://.`,
        { input: 'fleet-ca-key' }
      )
    }
  }
  try {
    binding = require(file) as Binding
  } catch (error) {
    throw new FleetCaError(`fleet-ca-key: the native PKCS#11 binding (${file}) cannot be loaded on ${platform}: ${messageOf(error)}`, { input: 'fleet-ca-key' })
  }
  return binding
}

/** "CKR_PIN_INCORRECT" out of a pkcs11js error ("CKR_PIN_INCORRECT:160\n at …"), else undefined. */
export function ckr(error: unknown): string | undefined {
  return /CKR_[A-Z0-9_]+/.exec(messageOf(error))?.[0]
}

const trimmed = (value: string): string => value.replace(/[\s\u0000]+$/, '')

/** Raw r‖s (PKCS#11 CKM_ECDSA) → DER Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }. */
export function ecdsaRawToDer(raw: Buffer): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0) throw new Error(`an ECDSA signature of ${raw.length} bytes is not r‖s`)
  const half = raw.length / 2
  return sequence(unsignedInteger(raw.subarray(0, half)), unsignedInteger(raw.subarray(half)))
}

/** SubjectPublicKeyInfo of an EC key from CKA_EC_PARAMS (the curve OID) and CKA_EC_POINT. */
function ecPublicKey(params: Buffer, point: Buffer): KeyObject {
  // CKA_EC_POINT is a DER OCTET STRING around the point (v2.40); some modules give the bare point.
  let raw = point
  if (point[0] === TAG.octetString) {
    const node = readSingle(point)
    raw = contentsOf(point, node)
  }
  return createPublicKey({ key: sequence(sequence(oid(OID.ecPublicKey), params), bitString(raw)), format: 'der', type: 'spki' })
}

function rsaPublicKey(modulus: Buffer, exponent: Buffer): KeyObject {
  return createPublicKey({
    key: { kty: 'RSA', n: modulus.toString('base64url'), e: exponent.toString('base64url') },
    format: 'jwk'
  })
}

// ---- opening ----------------------------------------------------------------------------------

interface Token {
  slot: Handle
  label: string
  flags: number
}

function describeUri(uri: Pkcs11Uri): string {
  const parts = [
    uri.token !== undefined ? `token "${uri.token}"` : undefined,
    uri.serial !== undefined ? `serial ${uri.serial}` : undefined,
    uri.slotId !== undefined ? `slot-id ${uri.slotId}` : undefined,
    uri.object !== undefined ? `object "${uri.object}"` : undefined,
    uri.id !== undefined ? `id ${uri.id.toString('hex')}` : undefined
  ].filter(Boolean)
  return `PKCS#11 ${parts.join(', ') || 'key'}`
}

function slotNumber(slot: Handle): bigint {
  return slot.length >= 8 ? slot.readBigUInt64LE(0) : BigInt(slot.readUInt32LE(0))
}

function findToken(p11: NativePkcs11, uri: Pkcs11Uri, module: string): Token {
  const library = p11.C_GetInfo()
  const libraryMatches =
    (uri.libraryManufacturer === undefined || trimmed(library.manufacturerID) === uri.libraryManufacturer) &&
    (uri.libraryDescription === undefined || trimmed(library.libraryDescription) === uri.libraryDescription) &&
    (uri.libraryVersion === undefined ||
      uri.libraryVersion === `${library.libraryVersion.major}.${library.libraryVersion.minor}` ||
      uri.libraryVersion === `${library.libraryVersion.major}`)
  const seen: string[] = []
  const matches: Token[] = []
  for (const slot of p11.C_GetSlotList(true)) {
    const info = p11.C_GetTokenInfo(slot)
    const slotInfo = p11.C_GetSlotInfo(slot)
    const label = trimmed(info.label)
    seen.push(`"${label}"`)
    if (!libraryMatches) continue
    if (uri.token !== undefined && label !== uri.token) continue
    if (uri.manufacturer !== undefined && trimmed(info.manufacturerID) !== uri.manufacturer) continue
    if (uri.model !== undefined && trimmed(info.model) !== uri.model) continue
    if (uri.serial !== undefined && trimmed(info.serialNumber) !== uri.serial) continue
    if (uri.slotId !== undefined && slotNumber(slot) !== uri.slotId) continue
    if (uri.slotDescription !== undefined && trimmed(slotInfo.slotDescription) !== uri.slotDescription) continue
    if (uri.slotManufacturer !== undefined && trimmed(slotInfo.manufacturerID) !== uri.slotManufacturer) continue
    matches.push({ slot, label, flags: info.flags })
  }
  if (matches.length === 0) {
    throw new FleetCaError(`fleet-ca-key: no token in ${module} matches the pkcs11: URI (${describeUri(uri)}); tokens present: ${seen.join(', ') || 'none'}`, {
      input: 'fleet-ca-key'
    })
  }
  if (matches.length > 1) {
    throw new FleetCaError(
      `fleet-ca-key: ${matches.length} tokens match the pkcs11: URI (${matches.map((token) => `"${token.label}"`).join(', ')}); add token=, serial= or slot-id= to pick one`,
      { input: 'fleet-ca-key' }
    )
  }
  return matches[0] as Token
}

function findObjects(p11: NativePkcs11, session: Handle, template: Attribute[]): Handle[] {
  p11.C_FindObjectsInit(session, template)
  try {
    const found: Handle[] = []
    for (;;) {
      const batch = p11.C_FindObjects(session, 16)
      found.push(...batch)
      if (batch.length < 16 || found.length > 64) return found
    }
  } finally {
    p11.C_FindObjectsFinal(session)
  }
}

function attribute(p11: NativePkcs11, session: Handle, object: Handle, type: number): Buffer | undefined {
  try {
    const [value] = p11.C_GetAttributeValue(session, object, [{ type }])
    return value?.value && value.value.length > 0 ? value.value : undefined
  } catch {
    return undefined
  }
}

function readPin(uri: Pkcs11Uri, context: SignerOpenContext): string | undefined {
  if (context.passphrase) return context.passphrase
  if (uri.pinValue !== undefined) {
    context.warn?.(
      'fleet-ca-key: the pkcs11: URI holds pin-value; a PIN in a URI lands in logs and workflow files. Put the PIN in a secret and pass it as fleet-ca-key-passphrase instead.'
    )
    return uri.pinValue
  }
  if (uri.pinSource !== undefined) {
    const file = uri.pinSource.startsWith('file:') ? fileURLToPath(uri.pinSource.startsWith('file://') ? uri.pinSource : `file://${uri.pinSource.slice(5)}`) : uri.pinSource
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '')
    } catch (error) {
      throw new FleetCaError(`fleet-ca-key: the pin-source file of the pkcs11: URI cannot be read (${messageOf(error).replace(file, '…')})`, { input: 'fleet-ca-key' })
    }
  }
  return undefined
}

/** Several sessions of one login, each holding one sign operation at a time; `acquire` waits for a free one. */
class SessionPool {
  private readonly idle: number[]
  private readonly waiting: Array<(index: number) => void> = []
  constructor(count: number) {
    // Popped from the end: session 0 first, so a lone request always finds the same one.
    this.idle = Array.from({ length: count }, (_, index) => count - 1 - index)
  }
  acquire(): Promise<number> {
    const index = this.idle.pop()
    if (index !== undefined) return Promise.resolve(index)
    return new Promise((resolve) => this.waiting.push(resolve))
  }
  release(index: number): void {
    const next = this.waiting.shift()
    if (next) next(index)
    else this.idle.push(index)
  }
}

// C_GetTokenInfo's ulMaxSessionCount: 0 is CK_EFFECTIVELY_INFINITE, ~0 (as pkcs11js gives it, a
// uint32) CK_UNAVAILABLE_INFORMATION.
const CK_EFFECTIVELY_INFINITE = 0
const CK_UNAVAILABLE_INFORMATION_32 = 0xffffffff

/**
 * How many sessions to have open in all, given the token's limit: `wanted`, or fewer when the
 * token allows only `max` sessions and `open` are in use (ours included).
 */
export function sessionBudget(wanted: number, max: number, open: number): number {
  if (max === CK_EFFECTIVELY_INFINITE || max === CK_UNAVAILABLE_INFORMATION_32 || !Number.isFinite(max)) return wanted
  const inUse = open === CK_UNAVAILABLE_INFORMATION_32 || !Number.isFinite(open) ? 1 : Math.max(1, open)
  return Math.max(1, Math.min(wanted, max - inUse + 1))
}

export interface Pkcs11Options {
  /** Sessions to open after the one login, bounded by the token's maximum. Default 1. */
  sessions?: number
  /**
   * Sign on libuv's thread pool (pkcs11js' C_SignCallback), one operation per session at a time,
   * instead of synchronously on the calling thread. Used by the signer process (see the top).
   * Ignored (synchronous, one session) for a module that cannot use OS locking (CKR_CANT_LOCK).
   */
  async?: boolean
}

/** The in-process signer, with what it did: sessions used and signatures made on each. */
export interface Pkcs11Signer extends CaSigner {
  /** Sessions open for signing. */
  readonly sessions: number
  /** 'async' (libuv's pool, several operations in flight) or 'sync'. */
  readonly mode: 'async' | 'sync'
  /** Signatures made on each session so far (the test signature included). */
  usage(): { perSession: number[]; maxInFlight: number }
}

export async function openPkcs11SignerInProcess(reference: string, context: SignerOpenContext, options: Pkcs11Options = {}): Promise<Pkcs11Signer> {
  const uri = parsePkcs11Uri(reference)
  if (uri.type !== undefined && uri.type !== 'private') {
    throw new FleetCaError(`fleet-ca-key: the pkcs11: URI says type=${uri.type}; the fleet CA key is a private key (type=private, or leave type out)`, {
      input: 'fleet-ca-key'
    })
  }
  const module = uri.modulePath ?? context.pkcs11Module ?? (uri.moduleName ? `${uri.moduleName}.so` : undefined)
  if (!module) {
    throw new FleetCaError(
      'pkcs11-module: a pkcs11: fleet-ca-key needs its PKCS#11 module: set the pkcs11-module input (or module-path in the URI), e.g. /usr/lib/softhsm/libsofthsm2.so',
      {
        input: 'pkcs11-module'
      }
    )
  }
  const moduleInput = uri.modulePath !== undefined ? 'fleet-ca-key' : 'pkcs11-module'
  const addon = loadBinding()
  const p11 = new addon.PKCS11()
  try {
    p11.load(module)
  } catch (error) {
    const reason = messageOf(error).split('\n')[0] ?? ''
    const missing = !module.includes('/') ? '' : existsSync(module) ? ' (the file exists but is not a PKCS#11 module, or a library it needs is missing)' : ' (no such file)'
    throw new FleetCaError(`${moduleInput}: cannot load the PKCS#11 module ${module}${missing}: ${reason}`, { input: moduleInput })
  }
  let initialized = false
  // With OS locking the module may be called from several threads at once; without it (a module
  // answering CKR_CANT_LOCK) it is called from this thread only.
  let threadSafe = true
  const sessions: Handle[] = []
  let loggedIn = false
  const release = (): void => {
    if (loggedIn && sessions[0]) {
      try {
        p11.C_Logout(sessions[0])
      } catch {
        // closing the sessions logs out anyway
      }
    }
    for (const session of sessions.splice(0)) {
      try {
        p11.C_CloseSession(session)
      } catch {
        // already gone
      }
    }
    if (initialized) {
      try {
        p11.C_Finalize()
      } catch {
        // nothing left to release
      }
      initialized = false
    }
  }
  try {
    try {
      p11.C_Initialize({ flags: CKF_OS_LOCKING_OK })
      initialized = true
    } catch (error) {
      if (ckr(error) === 'CKR_CRYPTOKI_ALREADY_INITIALIZED') initialized = false
      else if (ckr(error) === 'CKR_CANT_LOCK') {
        try {
          p11.C_Initialize()
          initialized = true
          threadSafe = false
        } catch (retry) {
          throw new FleetCaError(`${moduleInput}: the PKCS#11 module ${module} failed to initialise (${ckr(retry) ?? messageOf(retry)})`, { input: moduleInput })
        }
      } else throw new FleetCaError(`${moduleInput}: the PKCS#11 module ${module} failed to initialise (${ckr(error) ?? messageOf(error)})`, { input: moduleInput })
    }
    const token = findToken(p11, uri, module)
    const where = `token "${token.label}"`
    if (token.flags & CKF_USER_PIN_LOCKED) {
      throw new FleetCaError(
        `fleet-ca-key-passphrase: the user PIN of PKCS#11 ${where} is locked (too many wrong PINs); unlock it with the SO PIN (e.g. softhsm2-util or the HSM's tool)`,
        {
          input: 'fleet-ca-key-passphrase'
        }
      )
    }
    const wanted = threadSafe ? Math.max(1, Math.floor(options.sessions ?? 1)) : 1
    const async = threadSafe && options.async === true
    sessions.push(p11.C_OpenSession(token.slot, CKF_SERIAL_SESSION))
    const first = sessions[0] as Handle
    const pin = readPin(uri, context)
    if (pin === undefined && token.flags & CKF_LOGIN_REQUIRED) {
      throw new FleetCaError(`fleet-ca-key-passphrase: PKCS#11 ${where} needs its user PIN: set fleet-ca-key-passphrase to it`, { input: 'fleet-ca-key-passphrase' })
    }
    if (pin !== undefined) {
      try {
        p11.C_Login(first, CKU_USER, pin)
        loggedIn = true
      } catch (error) {
        const code = ckr(error)
        if (code === 'CKR_USER_ALREADY_LOGGED_IN') loggedIn = true
        else if (code === 'CKR_PIN_INCORRECT' || code === 'CKR_PIN_LEN_RANGE') {
          throw new FleetCaError(`fleet-ca-key-passphrase: PKCS#11 ${where} refused the PIN (${code}); check fleet-ca-key-passphrase. Repeated wrong PINs lock the token.`, {
            input: 'fleet-ca-key-passphrase'
          })
        } else if (code === 'CKR_PIN_LOCKED') {
          throw new FleetCaError(`fleet-ca-key-passphrase: the user PIN of PKCS#11 ${where} is locked (CKR_PIN_LOCKED); unlock it with the SO PIN`, {
            input: 'fleet-ca-key-passphrase'
          })
        } else throw new FleetCaError(`fleet-ca-key: login to PKCS#11 ${where} failed (${code ?? messageOf(error)})`, { input: 'fleet-ca-key' })
      }
    }

    // The private key: exactly one object matching the URI.
    const template: Attribute[] = [{ type: CKA_CLASS, value: CKO_PRIVATE_KEY }]
    if (uri.object !== undefined) template.push({ type: CKA_LABEL, value: uri.object })
    if (uri.id !== undefined) template.push({ type: CKA_ID, value: uri.id })
    const keys = findObjects(p11, first, template)
    if (keys.length === 0) {
      throw new FleetCaError(
        `fleet-ca-key: no private key on PKCS#11 ${where} matches the pkcs11: URI (${describeUri(uri)})${pin === undefined ? '; without a PIN private keys are usually hidden: set fleet-ca-key-passphrase' : ''}`,
        { input: 'fleet-ca-key' }
      )
    }
    if (keys.length > 1) {
      throw new FleetCaError(`fleet-ca-key: ${keys.length} private keys on PKCS#11 ${where} match the pkcs11: URI (${describeUri(uri)}); add object= or id= to pick one`, {
        input: 'fleet-ca-key'
      })
    }
    const key = keys[0] as Handle
    const keyType = attribute(p11, first, key, CKA_KEY_TYPE)
    const kind = keyType ? Number(keyType.length >= 8 ? keyType.readBigUInt64LE(0) : keyType.readUInt32LE(0)) : undefined
    if (kind !== CKK_EC && kind !== CKK_RSA) {
      throw new FleetCaError(
        `fleet-ca-key: the private key on PKCS#11 ${where} is neither EC nor RSA (CKA_KEY_TYPE ${kind ?? 'unknown'}); credbake signs with EC P-256/P-384/P-521 and RSA keys`,
        {
          input: 'fleet-ca-key'
        }
      )
    }

    const publicKey = tokenPublicKey(p11, first, key, kind, uri) ?? context.certificatePublicKey
    if (!publicKey) throw new FleetCaError(`fleet-ca-key: PKCS#11 ${where} shows no public key for the private key`, { input: 'fleet-ca-key' })
    const facts = keyFacts(publicKey)
    if ('unsupported' in facts) throw new FleetCaError(`fleet-ca-key: the key on PKCS#11 ${where}: ${facts.unsupported}`, { input: 'fleet-ca-key' })
    const hash = facts.hash as HashName

    // More sessions of the same login (a login is per token, not per session), as many as the
    // token allows; a token that refuses one more (CKR_SESSION_COUNT) keeps those it gave.
    const tokenInfo = wanted > 1 ? p11.C_GetTokenInfo(token.slot) : undefined
    const count = tokenInfo ? sessionBudget(wanted, tokenInfo.maxSessionCount, tokenInfo.sessionCount) : 1
    for (let i = 1; i < count; i += 1) {
      try {
        sessions.push(p11.C_OpenSession(token.slot, CKF_SERIAL_SESSION))
      } catch (error) {
        if (ckr(error) === 'CKR_SESSION_COUNT') break
        throw error
      }
    }
    const pool = new SessionPool(sessions.length)
    const signed: number[] = sessions.map(() => 0)
    let inFlight = 0
    let maxInFlight = 0
    // pkcs11js' C_SignCallback hands the module raw pointers into the data and signature buffers
    // and keeps no reference to them: they are held here until its callback has run, or the
    // garbage collector could free them while a pool thread reads or writes them.
    const held = new Set<{ data: Buffer; out: Buffer }>()
    const signOn = (session: Handle, data: Buffer, out: Buffer): Promise<number> => {
      if (!async) return Promise.resolve(p11.C_Sign(session, data, out))
      const buffers = { data, out }
      held.add(buffers)
      return new Promise<number>((resolve, reject) => {
        try {
          p11.C_SignCallback(session, data, out, (error, length) => {
            held.delete(buffers)
            if (error) reject(error)
            else resolve(length)
          })
        } catch (error) {
          held.delete(buffers)
          reject(error)
        }
      })
    }
    const label = uri.object !== undefined ? `object "${uri.object}"` : uri.id !== undefined ? `id ${uri.id.toString('hex')}` : 'its private key'
    const description = `PKCS#11 ${where}, ${label}`
    let closed = false
    let pending = 0
    let drained: (() => void) | undefined

    const signOnce = async (tbs: Buffer): Promise<Buffer> => {
      if (closed) throw new FleetCaError(`fleet-ca-key: ${description} was closed`, { input: 'fleet-ca-key' })
      pending += 1
      const index = await pool.acquire()
      const session = sessions[index] as Handle
      inFlight += 1
      maxInFlight = Math.max(maxInFlight, inFlight)
      try {
        const ec = kind === CKK_EC
        const data = ec ? createHash(hash).update(tbs).digest() : Buffer.from(tbs)
        // One operation per session: C_SignInit then C_Sign, which ends it (also when it fails).
        p11.C_SignInit(session, { mechanism: ec ? CKM_ECDSA : CKM_RSA_MECHANISMS[hash] }, key)
        const out = Buffer.alloc(ec ? 160 : 1024)
        const length = await signOn(session, data, out)
        signed[index] = (signed[index] ?? 0) + 1
        const signature = out.subarray(0, length)
        return ec ? ecdsaRawToDer(signature) : Buffer.from(signature)
      } catch (error) {
        throw new FleetCaError(`fleet-ca-key: ${description} failed to sign (${ckr(error) ?? messageOf(error)})`, { input: 'fleet-ca-key', cause: error })
      } finally {
        inFlight -= 1
        pending -= 1
        pool.release(index)
        if (pending === 0) drained?.()
      }
    }
    return {
      description,
      publicKey,
      hash,
      concurrency: sessions.length,
      sessions: sessions.length,
      mode: async ? 'async' : 'sync',
      usage: () => ({ perSession: [...signed], maxInFlight }),
      sign: signOnce,
      close: async () => {
        if (closed) return
        closed = true
        if (pending > 0) await new Promise<void>((resolve) => (drained = resolve))
        release()
      }
    }
  } catch (error) {
    release()
    if (error instanceof FleetCaError) throw error
    throw new FleetCaError(`fleet-ca-key: PKCS#11 module ${module}: ${ckr(error) ?? messageOf(error)}`, { input: 'fleet-ca-key', cause: error })
  }
}

/** The public half from the token: a CKO_PUBLIC_KEY with the same id (or label), or the private key's own attributes. */
function tokenPublicKey(p11: NativePkcs11, session: Handle, key: Handle, kind: number, uri: Pkcs11Uri): KeyObject | undefined {
  const id = attribute(p11, session, key, CKA_ID)
  const label = attribute(p11, session, key, CKA_LABEL)
  const candidates: Handle[] = [key]
  const template: Attribute[] = [{ type: CKA_CLASS, value: CKO_PUBLIC_KEY }]
  if (id) template.push({ type: CKA_ID, value: id })
  else if (label) template.push({ type: CKA_LABEL, value: label })
  else if (uri.object !== undefined) template.push({ type: CKA_LABEL, value: uri.object })
  if (template.length > 1) {
    const publics = findObjects(p11, session, template)
    if (publics.length === 1) candidates.unshift(publics[0] as Handle)
  }
  for (const object of candidates) {
    try {
      if (kind === CKK_EC) {
        const params = attribute(p11, session, object, CKA_EC_PARAMS)
        const point = attribute(p11, session, object, CKA_EC_POINT)
        if (params && point && params[0] === TAG.oid) {
          decodeOid(contentsOf(params, readSingle(params)))
          return ecPublicKey(params, point)
        }
      } else {
        const modulus = attribute(p11, session, object, CKA_MODULUS)
        const exponent = attribute(p11, session, object, CKA_PUBLIC_EXPONENT)
        if (modulus && exponent) return rsaPublicKey(modulus, exponent)
      }
    } catch {
      // try the next place; the certificate's key is the last resort (the test signature still runs)
    }
  }
  return undefined
}

// ---- the signer process ------------------------------------------------------------------------

export const PKCS11_ROLE = 'pkcs11-signer'
const ROLE_ENV = 'CREDBAKE_ROLE'
const URI_ENV = 'CREDBAKE_PKCS11_URI'
const MODULE_ENV = 'CREDBAKE_PKCS11_MODULE'
const PASSPHRASE_ENV = 'CREDBAKE_SIGNER_PASSPHRASE'
/**
 * Sessions the signer process opens after its one login (fewer if the token allows fewer).
 * CREDBAKE_PKCS11_SESSIONS (1–64) overrides it, e.g. 1 for a module that misbehaves with several.
 */
export const DEFAULT_PROCESS_SESSIONS = 4
export const SESSIONS_ENV = 'CREDBAKE_PKCS11_SESSIONS'
/**
 * When set to a file path, the signer process writes there at its end what it did, as JSON:
 * `{"sessions":4,"mode":"async","perSession":[750,751,750,750],"maxInFlight":4,"cpuMs":{"user":900,"system":300}}`
 * (the process's CPU time; for tests and benchmarks, nothing secret in it).
 */
export const DIAGNOSTICS_ENV = 'CREDBAKE_PKCS11_DIAGNOSTICS'
/** Requests in flight to the signer process per session it has open (hides the pipe's latency). */
const REQUESTS_PER_SESSION = 8
const MIN_PROCESS_CONCURRENCY = 16

export interface Pkcs11ProcessOptions {
  /** The bundle to start as the signer process (default: the running one). */
  script?: string
}

/** Opens the token: in a signer process when running from the bundle, else (src/, tests) here. */
export async function openPkcs11Signer(reference: string, context: SignerOpenContext): Promise<CaSigner> {
  const here = fileURLToPath(import.meta.url)
  if (here.endsWith('.ts')) return openPkcs11SignerInProcess(reference, context)
  return openPkcs11SignerProcess(reference, context, { script: here })
}

/** The token in a signer process: `script` (a bundle: dist/index.js or dist/cli.js) started with CREDBAKE_ROLE=pkcs11-signer. */
export async function openPkcs11SignerProcess(reference: string, context: SignerOpenContext, options: Pkcs11ProcessOptions = {}): Promise<CaSigner> {
  const script = options.script ?? fileURLToPath(import.meta.url)
  parsePkcs11Uri(reference) // URI errors before a process is started
  const child = new SignerProcess(process.execPath, context.passphrase, context.warn ?? (() => {}), {
    args: [script],
    env: {
      [ROLE_ENV]: PKCS11_ROLE,
      [URI_ENV]: reference,
      ...(context.pkcs11Module ? { [MODULE_ENV]: context.pkcs11Module } : {}),
      // A pool thread for every session (libuv's default is 4), unless the user sized the pool.
      UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? String(Math.max(4, processSessions(process.env[SESSIONS_ENV])))
    },
    stderrPrefix: '',
    name: "credbake's PKCS#11 signer process"
  })
  const failed = (answer: Record<string, unknown>): void => {
    if (answer.error === undefined) return
    const input = typeof answer.input === 'string' ? answer.input : 'fleet-ca-key'
    throw new FleetCaError(String(answer.error), { input })
  }
  try {
    const opened = await child.request({ op: 'public-key' })
    failed(opened)
    const publicKey = createPublicKey({ key: String(opened.publicKey), format: 'pem' })
    const description = String(opened.description)
    const hash = (opened.hash ?? null) as HashName | null
    const sessions = typeof opened.sessions === 'number' && opened.sessions >= 1 ? opened.sessions : 1
    return {
      description,
      publicKey,
      hash,
      concurrency: Math.max(MIN_PROCESS_CONCURRENCY, sessions * REQUESTS_PER_SESSION),
      sign: async (tbs) => {
        const answer = await child.request({ op: 'sign', tbs: tbs.toString('base64') })
        failed(answer)
        if (typeof answer.signature !== 'string') throw new FleetCaError(`fleet-ca-key: ${description}: the signer process answered no signature`, { input: 'fleet-ca-key' })
        return Buffer.from(answer.signature, 'base64')
      },
      close: () => child.close()
    }
  } catch (error) {
    await child.close().catch(() => undefined)
    throw error
  }
}

/** Sessions for the signer process: CREDBAKE_PKCS11_SESSIONS if it is a whole number 1–64, else the default. */
export function processSessions(value: string | undefined): number {
  const n = value !== undefined && /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN
  return n >= 1 && n <= 64 ? n : DEFAULT_PROCESS_SESSIONS
}

/**
 * In the signer process (CREDBAKE_ROLE=pkcs11-signer): serve requests; true when this is it.
 * One login, several sessions, each holding one sign operation at a time, the signatures made on
 * libuv's thread pool; requests are served as they come and answered as they finish (in any
 * order, matched by id), the answers of one turn of the event loop in one write.
 */
export function runIfPkcs11SignerProcess(): boolean {
  if (process.env[ROLE_ENV] !== PKCS11_ROLE) return false
  const reference = process.env[URI_ENV] ?? ''
  const passphrase = process.env[PASSPHRASE_ENV]
  const module = process.env[MODULE_ENV]
  const sessions = processSessions(process.env[SESSIONS_ENV])
  const diagnostics = process.env[DIAGNOSTICS_ENV]
  for (const name of [ROLE_ENV, URI_ENV, PASSPHRASE_ENV, MODULE_ENV]) delete process.env[name]
  let outgoing: string[] = []
  const flush = (): void => {
    if (outgoing.length === 0) return
    const text = `${outgoing.join('\n')}\n`
    outgoing = []
    process.stdout.write(text)
  }
  const write = (answer: Record<string, unknown>): void => {
    outgoing.push(JSON.stringify(answer))
    if (outgoing.length === 1) setImmediate(flush)
  }
  const failure = (id: unknown, error: unknown): Record<string, unknown> =>
    isCredbakeError(error) ? { id, error: error.message, input: error.input ?? 'fleet-ca-key' } : { id, error: `fleet-ca-key: PKCS#11: ${messageOf(error)}`, input: 'fleet-ca-key' }
  let signer: Promise<Pkcs11Signer> | undefined
  let buffer = ''
  const serving = new Set<Promise<void>>()
  const serve = async (line: string): Promise<void> => {
    let request: { id?: unknown; op?: unknown; tbs?: unknown }
    try {
      request = JSON.parse(line) as typeof request
    } catch {
      return
    }
    try {
      if (request.op === 'public-key') {
        signer ??= openPkcs11SignerInProcess(
          reference,
          {
            ...(passphrase ? { passphrase } : {}),
            ...(module ? { pkcs11Module: module } : {}),
            warn: (message) => void process.stderr.write(`${message}\n`)
          },
          { sessions, async: true }
        )
        const opened = await signer
        write({
          id: request.id,
          publicKey: opened.publicKey.export({ type: 'spki', format: 'pem' }),
          description: opened.description,
          hash: opened.hash,
          sessions: opened.sessions
        })
      } else if (request.op === 'sign' && typeof request.tbs === 'string' && signer) {
        const signature = await (await signer).sign(Buffer.from(request.tbs, 'base64'))
        write({ id: request.id, signature: signature.toString('base64') })
      } else {
        write({ id: request.id, error: 'fleet-ca-key: PKCS#11 signer process: unexpected request', input: 'fleet-ca-key' })
      }
    } catch (error) {
      write(failure(request.id, error))
    }
  }
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', (chunk: string) => {
    buffer += chunk
    let newline: number
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline)
      buffer = buffer.slice(newline + 1)
      const served = serve(line)
      serving.add(served)
      void served.finally(() => serving.delete(served))
    }
  })
  process.stdin.on('end', () => {
    void (async () => {
      while (serving.size > 0) await Promise.all([...serving])
      const opened = signer ? await signer.catch(() => undefined) : undefined
      if (opened) {
        await opened.close()
        if (diagnostics) {
          try {
            const cpu = process.cpuUsage()
            const report = { sessions: opened.sessions, mode: opened.mode, ...opened.usage(), cpuMs: { user: Math.round(cpu.user / 1000), system: Math.round(cpu.system / 1000) } }
            writeFileSync(diagnostics, `${JSON.stringify(report)}\n`)
          } catch (error) {
            process.stderr.write(`credbake's PKCS#11 signer process: cannot write ${DIAGNOSTICS_ENV} file: ${messageOf(error)}\n`)
          }
        }
      }
      flush()
      process.exit(0)
    })()
  })
  return true
}

export const pkcs11SignerFactory: SignerFactory = {
  name: 'pkcs11',
  accepts: isPkcs11Uri,
  open: (reference, context) => openPkcs11Signer(reference, context)
}
