// The fleet CA key in AWS KMS: `fleet-ca-key: awskms://[ENDPOINT/]KEY` (see awskms-uri.ts).
//
// Opening asks KMS for the public key (GetPublicKey), checks the key signs (KeyUsage SIGN_VERIFY)
// and picks the signing algorithm from its spec so the hash is the one the certificate profile
// uses for such a key: P-256 → ECDSA_SHA_256, P-384 → ECDSA_SHA_384, P-521 → ECDSA_SHA_512, RSA →
// RSASSA_PKCS1_V1_5_SHA_256. Each certificate is then one `Sign` call with `MessageType: DIGEST`
// (only the digest of the TBSCertificate leaves the runner); KMS returns ECDSA signatures as DER
// already, which is what the certificate's BIT STRING holds.
//
// Credentials and region come from the SDK's standard chains: what
// aws-actions/configure-aws-credentials leaves (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN, or AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, and AWS_REGION), a profile, or
// instance metadata. A key ARN's region wins over AWS_REGION.
//
// Requests are bounded (CONCURRENCY in flight) and the SDK's own retries are off (maxAttempts 1)
// so the retry policy is in one place: ThrottlingException is retried with exponential backoff and
// full jitter, and each throttle halves the number of requests let in flight (it grows back by one
// per round of successes), so a bake settles at what the account's shared KMS quota allows instead
// of hammering it. Transient faults (KMS internal errors, timeouts, reset connections) get a few
// retries; everything else fails the run with a FleetCaError naming fleet-ca-key.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto'
import { FleetCaError, messageOf } from '../errors.js'
import { isAwsKmsReference, parseAwsKmsReference, type AwsKmsReference } from './awskms-uri.js'
import type { CaSigner, SignerFactory, SignerOpenContext } from './types.js'
import type { HashName } from '../x509/algorithms.js'

/** Sign requests in flight at most (KMS is a network service: latency, not CPU, bounds the rate). */
export const CONCURRENCY = 32

export interface AwsKmsOptions {
  /** Most requests in flight. Default CONCURRENCY. */
  concurrency?: number
  /** Retries of one call answered ThrottlingException before giving up. Default 10. */
  throttleRetries?: number
  /** First backoff ceiling in ms; doubles per retry up to maxDelayMs (full jitter). Default 50. */
  baseDelayMs?: number
  /** Default 3000. */
  maxDelayMs?: number
  /** Retries of transient faults (5xx, timeouts, reset connections). Default 3. */
  transientRetries?: number
  /** Environment the region is read from. Default process.env (credentials: the SDK reads it). */
  env?: NodeJS.ProcessEnv
  /** ms to wait for a connection. Default 5000. */
  connectionTimeoutMs?: number
  /** ms to wait for an answer. Default 30000. */
  requestTimeoutMs?: number
}

interface KeyProfile {
  signingAlgorithm: 'ECDSA_SHA_256' | 'ECDSA_SHA_384' | 'ECDSA_SHA_512' | 'RSASSA_PKCS1_V1_5_SHA_256'
  hash: HashName
  description: string
}

const EC_SPECS: Record<string, KeyProfile & { curve: string }> = {
  ECC_NIST_P256: { signingAlgorithm: 'ECDSA_SHA_256', hash: 'sha256', curve: 'prime256v1', description: 'EC P-256' },
  ECC_NIST_P384: { signingAlgorithm: 'ECDSA_SHA_384', hash: 'sha384', curve: 'secp384r1', description: 'EC P-384' },
  ECC_NIST_P521: { signingAlgorithm: 'ECDSA_SHA_512', hash: 'sha512', curve: 'secp521r1', description: 'EC P-521' }
}

const RSA_SPECS: Record<string, number> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 }

// Minimal shapes of what the SDK gives back; the SDK is imported lazily (only runs that use KMS load it).
interface KmsClientLike {
  send(command: unknown): Promise<Record<string, unknown>>
  destroy(): void
  config: { region: () => Promise<string> }
}

type KmsModule = typeof import('./awskms-sdk.js')

/**
 * The SDK, loaded on first use. From src/ this is awskms-sdk.ts; in the bundles rollup.config.js
 * points this import at dist/aws-kms.js beside the bundle, so only a run with an awskms:// key
 * evaluates the SDK (see awskms-sdk.ts).
 */
async function loadSdk(keyId: string): Promise<KmsModule> {
  try {
    return await import('./awskms-sdk.js')
  } catch (error) {
    throw new FleetCaError(
      `fleet-ca-key ${keyId}: credbake's AWS SDK cannot be loaded (${oneLine(messageOf(error))}). It ships as dist/aws-kms.js beside dist/index.js and dist/cli.js: copy all of dist/, not only the entry files.`,
      { input: 'fleet-ca-key', cause: error }
    )
  }
}

export function createAwsKmsSignerFactory(options: AwsKmsOptions = {}): SignerFactory {
  return {
    name: 'awskms',
    accepts: isAwsKmsReference,
    open: (reference: string, context: SignerOpenContext) => openAwsKms(reference, context, options)
  }
}

export const awsKmsSignerFactory: SignerFactory = createAwsKmsSignerFactory()

async function openAwsKms(reference: string, context: SignerOpenContext, options: AwsKmsOptions): Promise<CaSigner> {
  const ref = parseAwsKmsReference(reference)
  if (context.passphrase) context.warn?.(`fleet-ca-key-passphrase is ignored for the AWS KMS key ${ref.keyId}: KMS authenticates with the AWS credentials.`)
  if (context.pkcs11Module) context.warn?.(`pkcs11-module is ignored for the AWS KMS key ${ref.keyId}.`)
  const env = options.env ?? process.env
  const sdk = await loadSdk(ref.keyId)
  const region = ref.region ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION)
  const client = new sdk.KMSClient({
    ...(region === undefined ? {} : { region }),
    ...(ref.endpoint === undefined ? {} : { endpoint: ref.endpoint }),
    maxAttempts: 1,
    requestHandler: { connectionTimeout: options.connectionTimeoutMs ?? 5000, requestTimeout: options.requestTimeoutMs ?? 30_000 }
  }) as unknown as KmsClientLike

  const where = describeWhere(ref, region)
  try {
    if (region === undefined) {
      try {
        await client.config.region()
      } catch {
        throw new FleetCaError(
          `fleet-ca-key ${ref.keyId}: no AWS region. Set AWS_REGION (aws-actions/configure-aws-credentials sets it from its aws-region input), or name the key by its ARN, which carries the region.`,
          { input: 'fleet-ca-key' }
        )
      }
    }
    const calls = new KmsCalls(client, ref, where, options)
    const answer = await calls.run('GetPublicKey', () => new sdk.GetPublicKeyCommand({ KeyId: ref.keyId }))
    const { publicKey, profile } = checkPublicKey(ref, answer)
    const resolvedRegion = region ?? (await client.config.region())
    let closed = false
    return {
      description: `AWS KMS key ${ref.keyId} (${profile.description}, ${describeWhere(ref, resolvedRegion)})`,
      publicKey,
      hash: profile.hash,
      concurrency: calls.maxInFlight,
      async sign(tbs: Buffer): Promise<Buffer> {
        const digest = createHash(profile.hash).update(tbs).digest()
        const result = await calls.run('Sign', () => new sdk.SignCommand({ KeyId: ref.keyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: profile.signingAlgorithm }))
        const signature = result.Signature
        if (!(signature instanceof Uint8Array) || signature.length === 0) {
          throw new FleetCaError(`fleet-ca-key ${ref.keyId}: AWS KMS (${where}) answered Sign without a signature.`, { input: 'fleet-ca-key' })
        }
        return Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength)
      },
      async close(): Promise<void> {
        if (closed) return
        closed = true
        client.destroy()
      }
    }
  } catch (error) {
    client.destroy()
    throw error
  }
}

function checkPublicKey(ref: AwsKmsReference, answer: Record<string, unknown>): { publicKey: KeyObject; profile: KeyProfile } {
  const key = ref.keyId
  const usage = answer.KeyUsage
  if (usage !== 'SIGN_VERIFY') {
    throw new FleetCaError(`fleet-ca-key ${key}: the KMS key's usage is ${String(usage)}; a fleet CA key must be an asymmetric key with key usage SIGN_VERIFY.`, {
      input: 'fleet-ca-key'
    })
  }
  const spec = String(answer.KeySpec ?? answer.CustomerMasterKeySpec)
  const der = answer.PublicKey
  if (!(der instanceof Uint8Array)) throw new FleetCaError(`fleet-ca-key ${key}: AWS KMS answered GetPublicKey without a public key.`, { input: 'fleet-ca-key' })
  let publicKey: KeyObject
  try {
    publicKey = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' })
  } catch (error) {
    throw new FleetCaError(`fleet-ca-key ${key}: the public key AWS KMS returned cannot be read (${messageOf(error)}).`, { input: 'fleet-ca-key', cause: error })
  }
  let profile: KeyProfile
  const details = publicKey.asymmetricKeyDetails ?? {}
  if (EC_SPECS[spec]) {
    const ec = EC_SPECS[spec]!
    if (publicKey.asymmetricKeyType !== 'ec' || details.namedCurve !== ec.curve) {
      throw new FleetCaError(`fleet-ca-key ${key}: AWS KMS says the key is ${spec} but its public key is not.`, { input: 'fleet-ca-key' })
    }
    profile = ec
  } else if (RSA_SPECS[spec]) {
    if (publicKey.asymmetricKeyType !== 'rsa' || details.modulusLength !== RSA_SPECS[spec]) {
      throw new FleetCaError(`fleet-ca-key ${key}: AWS KMS says the key is ${spec} but its public key is not.`, { input: 'fleet-ca-key' })
    }
    profile = { signingAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256', hash: 'sha256', description: `RSA ${RSA_SPECS[spec]}` }
  } else {
    throw new FleetCaError(
      `fleet-ca-key ${key}: KMS key spec ${spec} cannot sign X.509 certificates here; use ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521 or RSA_2048/3072/4096.`,
      { input: 'fleet-ca-key' }
    )
  }
  const algorithms = answer.SigningAlgorithms
  if (Array.isArray(algorithms) && !algorithms.includes(profile.signingAlgorithm)) {
    throw new FleetCaError(`fleet-ca-key ${key}: the KMS key does not offer ${profile.signingAlgorithm} (it offers ${algorithms.join(', ')}).`, { input: 'fleet-ca-key' })
  }
  return { publicKey, profile }
}

/** KMS calls through one gate: bounded, throttle-aware, retried, errors mapped. */
class KmsCalls {
  readonly maxInFlight: number
  private limit: number
  private active = 0
  private readonly waiting: Array<() => void> = []
  private lastCut = 0
  private readonly throttleRetries: number
  private readonly transientRetries: number
  private readonly baseDelayMs: number
  private readonly maxDelayMs: number

  constructor(
    private readonly client: KmsClientLike,
    private readonly ref: AwsKmsReference,
    private readonly where: string,
    options: AwsKmsOptions
  ) {
    this.maxInFlight = Math.max(1, Math.floor(options.concurrency ?? CONCURRENCY))
    this.limit = this.maxInFlight
    this.throttleRetries = options.throttleRetries ?? 10
    this.transientRetries = options.transientRetries ?? 3
    this.baseDelayMs = options.baseDelayMs ?? 50
    this.maxDelayMs = options.maxDelayMs ?? 3000
  }

  async run(operation: 'GetPublicKey' | 'Sign', command: () => unknown): Promise<Record<string, unknown>> {
    await this.acquire()
    try {
      let throttles = 0
      let transients = 0
      for (;;) {
        try {
          const result = await this.client.send(command())
          this.succeeded()
          return result
        } catch (error) {
          const kind = classify(error)
          if (kind === 'throttle' && throttles < this.throttleRetries) {
            this.throttled()
            await sleep(this.backoff(throttles++))
            continue
          }
          if (kind === 'transient' && transients < this.transientRetries) {
            await sleep(this.backoff(transients++))
            continue
          }
          throw this.describe(operation, error, kind === 'throttle' ? throttles : transients)
        }
      }
    } finally {
      this.release()
    }
  }

  private backoff(attempt: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt)
    return Math.random() * ceiling
  }

  private acquire(): Promise<void> {
    if (this.active < Math.floor(this.limit)) {
      this.active++
      return Promise.resolve()
    }
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  private release(): void {
    this.active--
    this.drain()
  }

  private drain(): void {
    while (this.waiting.length > 0 && this.active < Math.floor(this.limit)) {
      this.active++
      this.waiting.shift()!()
    }
  }

  private throttled(): void {
    const now = Date.now()
    if (now - this.lastCut < 100) return
    this.lastCut = now
    this.limit = Math.max(1, this.limit / 2)
  }

  private succeeded(): void {
    if (this.limit >= this.maxInFlight) return
    this.limit = Math.min(this.maxInFlight, this.limit + 1 / this.limit)
    this.drain()
  }

  private describe(operation: string, error: unknown, retries: number): FleetCaError {
    const key = this.ref.keyId
    const name = errorName(error)
    const said = serviceMessage(error)
    const details = { input: 'fleet-ca-key', cause: error }
    const prefix = `fleet-ca-key ${key}: AWS KMS (${this.where})`
    switch (name) {
      case 'AccessDeniedException':
        return new FleetCaError(`${prefix} denied ${operation}: the role needs kms:Sign and kms:GetPublicKey on ${key}${said}`, details)
      case 'DisabledException':
        return new FleetCaError(`${prefix}: the key is disabled; enable it (aws kms enable-key) or name another key${said}`, details)
      case 'KMSInvalidStateException':
        return new FleetCaError(`${prefix}: the key cannot sign in its current state (disabled, pending deletion or pending import)${said}`, details)
      case 'NotFoundException':
        return new FleetCaError(`${prefix}: no such key or alias in this account and region${said}`, details)
      case 'InvalidKeyUsageException':
        return new FleetCaError(`${prefix}: the key cannot be used for ${operation}${said}`, details)
      case 'UnrecognizedClientException':
      case 'InvalidSignatureException':
      case 'IncompleteSignatureException':
      case 'MissingAuthenticationTokenException':
      case 'ExpiredTokenException':
        return new FleetCaError(`${prefix} did not accept the AWS credentials (${name}); check the credentials step of the workflow${said}`, details)
      case 'ThrottlingException':
        return new FleetCaError(
          `${prefix} kept throttling ${operation} after ${retries} retries: the account's KMS request quota for this key type is shared per account and region; run fewer bakes at once or raise the quota in Service Quotas${said}`,
          details
        )
      case 'InvalidIdentityTokenException':
      case 'IDPRejectedClaimException':
      case 'IDPCommunicationErrorException':
      case 'AccessDenied':
      case 'RegionDisabledException':
        return new FleetCaError(
          `fleet-ca-key ${key}: AWS STS refused the web identity (${name}), so there are no AWS credentials: check the role's trust policy (OIDC provider token.actions.githubusercontent.com, audience sts.amazonaws.com, a sub condition that matches this repository and branch or environment) and the workflow's permissions: id-token: write${said.replace('KMS said', 'STS said')}`,
          details
        )
      case 'CredentialsProviderError':
        return new FleetCaError(
          `fleet-ca-key ${key}: no AWS credentials found (environment, web identity, profile or instance metadata). In a workflow, run aws-actions/configure-aws-credentials first (with permissions: id-token: write for OIDC).`,
          details
        )
    }
    const code = (error as { code?: unknown })?.code
    if (typeof code === 'string' && NETWORK_CODES.has(code)) {
      return new FleetCaError(`${prefix} cannot be reached (${code}${retries > 0 ? ` after ${retries} retries` : ''}); check the endpoint and the runner's network.`, details)
    }
    if (name === 'TimeoutError' || /timed? ?out|timeout/i.test(messageOf(error))) {
      return new FleetCaError(`${prefix} did not answer ${operation} in time${retries > 0 ? ` (${retries} retries)` : ''}; check the endpoint and the runner's network.`, details)
    }
    const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode
    if (name === 'SyntaxError' || (status !== undefined && name === 'Unknown')) {
      return new FleetCaError(`${prefix} answered ${operation} with something that is not a KMS response${status ? ` (HTTP ${status})` : ''}; check the endpoint.`, details)
    }
    return new FleetCaError(`${prefix}: ${operation} failed (${name}${status ? `, HTTP ${status}` : ''})${said || `: ${oneLine(messageOf(error))}.`}`, details)
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER'
])
const TRANSIENT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN'])
const TRANSIENT_NAMES = new Set(['KMSInternalException', 'DependencyTimeoutException', 'InternalFailure', 'ServiceUnavailable', 'TimeoutError'])

function classify(error: unknown): 'throttle' | 'transient' | 'fatal' {
  const name = errorName(error)
  if (name === 'ThrottlingException' || name === 'TooManyRequestsException' || name === 'RequestLimitExceeded') return 'throttle'
  if (TRANSIENT_NAMES.has(name)) return 'transient'
  const code = (error as { code?: unknown })?.code
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return 'transient'
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode
  if (status !== undefined && status >= 500 && name !== 'Unknown') return 'transient'
  return 'fatal'
}

function errorName(error: unknown): string {
  if (error && typeof error === 'object' && 'name' in error && typeof error.name === 'string') return error.name
  return 'Error'
}

/** The service's own message (e.g. which role was denied), quoted; never holds credentials. */
function serviceMessage(error: unknown): string {
  const fault = (error as { $fault?: unknown })?.$fault
  if (fault === undefined) return '.'
  const text = oneLine(messageOf(error))
  return text && text !== 'UnknownError' ? `. KMS said: ${text}` : '.'
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat
}

function describeWhere(ref: AwsKmsReference, region: string | undefined): string {
  const parts = [region ?? 'region from the AWS config']
  if (ref.endpoint) parts.push(`endpoint ${ref.endpoint}`)
  return parts.join(', ')
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
