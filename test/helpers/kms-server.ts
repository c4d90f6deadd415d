/**
 * A stand-in for AWS KMS on 127.0.0.1, for the awskms: signer's tests and bench. The real service
 * is unreachable here, so this server speaks what the real `@aws-sdk/client-kms` sends and reads
 * (the JSON 1.1 protocol, as in the SDK's schemas and @aws-sdk/core's AwsJsonRpcProtocol):
 *
 *   POST /   X-Amz-Target: TrentService.GetPublicKey | TrentService.Sign
 *            Content-Type: application/x-amz-json-1.1, JSON body, blobs as base64
 *   200      {"KeyId": ARN, "PublicKey": b64 SPKI DER, "KeySpec", "KeyUsage", "SigningAlgorithms"}
 *            {"KeyId": ARN, "Signature": b64, "SigningAlgorithm"}
 *   400      {"__type": "ThrottlingException", "message": "..."} (and the other KMS error names)
 *
 * It holds real keys (generated, or PEM given by the test so openssl can make the CA certificate
 * with the same key), addressable by key ID, key ARN, alias and alias ARN, and really signs: RSA
 * PKCS#1 v1.5 through `privateEncrypt` over the DigestInfo, ECDSA over the digest with
 * test/helpers/ecdsa-digest.ts (node:crypto cannot sign a bare digest with an EC key).
 *
 * It checks that each request carries a SigV4 Authorization header for the expected access key
 * ID, service `kms` and region (the signature math itself is not verified).
 *
 * Faults the tests switch on and off at any time: `latencyMs` per call, `throttleSignEvery`
 * (every Nth Sign call), `throttleSignFraction`, `throttleAllSigns`, `internalErrorEvery`
 * (KMSInternalException, HTTP 500), and per key `denied`,
 * `denyAfterSigns`, `state` ('Disabled', 'PendingDeletion'), and `signFault` (bad signatures
 * answered as if all were well: another key's, a repeated one, random bytes).
 *
 *   const kms = await startKmsServer()
 *   const key = kms.addKey({ spec: 'ECC_NIST_P256', aliases: ['alias/fleet'] })
 *   // fleet-ca-key: `awskms://${kms.hostPort}/alias/fleet`
 *   afterAll(() => kms.close())
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, privateEncrypt, randomBytes, randomUUID, constants, type KeyObject } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ecdsaDigestSigner, type DigestSigner } from './ecdsa-digest.js'

export type KmsKeySpec = 'ECC_NIST_P256' | 'ECC_NIST_P384' | 'RSA_2048' | 'RSA_3072' | 'RSA_4096'
export type KmsKeyState = 'Enabled' | 'Disabled' | 'PendingDeletion'

const ALGORITHMS: Record<KmsKeySpec, string[]> = {
  ECC_NIST_P256: ['ECDSA_SHA_256'],
  ECC_NIST_P384: ['ECDSA_SHA_384'],
  RSA_2048: ['RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512', 'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512'],
  RSA_3072: ['RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512', 'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512'],
  RSA_4096: ['RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512', 'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512']
}

const HASH_OF: Record<string, 'sha256' | 'sha384' | 'sha512'> = {
  ECDSA_SHA_256: 'sha256',
  ECDSA_SHA_384: 'sha384',
  ECDSA_SHA_512: 'sha512',
  RSASSA_PKCS1_V1_5_SHA_256: 'sha256',
  RSASSA_PKCS1_V1_5_SHA_384: 'sha384',
  RSASSA_PKCS1_V1_5_SHA_512: 'sha512'
}

// DER DigestInfo prefixes (RFC 8017 §9.2 note 1).
const DIGEST_INFO: Record<'sha256' | 'sha384' | 'sha512', Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex')
}

const DIGEST_LENGTH = { sha256: 32, sha384: 48, sha512: 64 }

export interface KmsKey {
  keyId: string
  arn: string
  aliases: string[]
  spec: KmsKeySpec
  usage: 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT'
  privateKey: KeyObject
  publicKey: KeyObject
  /** PKCS#8 PEM of the private key, for openssl (the CA certificate is made with it). */
  privateKeyPem: string
  state: KmsKeyState
  /** Answer AccessDeniedException to every call on this key. */
  denied: boolean
  /** Answer AccessDeniedException to Sign once this many Sign calls on this key have succeeded. */
  denyAfterSigns?: number
  /** Successful Sign calls on this key. */
  signs: number
  /**
   * Once this key has made `afterSigns` signatures, every Sign call is answered 200 with a bad
   * signature: made with another key of the same spec, the last good signature again (`repeat`),
   * or random bytes (`garbage`). Counted in `signs` too.
   */
  signFault?: { kind: 'other-key' | 'repeat' | 'garbage'; afterSigns: number }
}

export interface AddKeyOptions {
  /** Generate a key of this spec (ignored when `privateKeyPem` is given). Default ECC_NIST_P256. */
  spec?: KmsKeySpec
  /** Use this key (the test can make a certificate for it with openssl). */
  privateKeyPem?: string
  aliases?: string[]
  keyId?: string
  usage?: 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT'
}

export interface KmsServerOptions {
  /** Access key ID the Authorization header must name. Default AKIDTESTCREDBAKE0001. */
  accessKeyId?: string
  /** Region the requests must be signed for. Default eu-west-1. */
  region?: string
  /** Account in the ARNs. Default 111122223333. */
  account?: string
  /** Added before every answer. Default 0. */
  latencyMs?: number
  /**
   * Also answer STS AssumeRoleWithWebIdentity (query protocol, form body, XML answer) for this
   * role and token, handing out temporary credentials the KMS part then accepts: the OIDC path
   * (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, STS reached through AWS_ENDPOINT_URL_STS).
   */
  webIdentity?: { roleArn: string; token: string }
}

export interface KmsStats {
  getPublicKey: number
  sign: number
  signed: number
  throttled: number
  denied: number
  unauthenticated: number
  inFlight: number
  maxInFlight: number
  /** TCP connections accepted (keep-alive reuse shows as far fewer connections than calls). */
  connections: number
}

export interface KmsStandIn {
  /** `127.0.0.1:PORT`: what goes between `awskms://` and the key. */
  readonly hostPort: string
  readonly url: string
  readonly region: string
  readonly account: string
  readonly accessKeyId: string
  latencyMs: number
  /** Throttle every Nth Sign call (counting all Sign calls); 0: off. */
  throttleSignEvery: number
  /** Throttle this fraction (0..1) of Sign calls at random. */
  throttleSignFraction: number
  /** Throttle every Sign call. */
  throttleAllSigns: boolean
  /** Answer every Nth Sign call with KMSInternalException (HTTP 500); 0: off. */
  internalErrorEvery: number
  readonly stats: KmsStats
  addKey(options?: AddKeyOptions): KmsKey
  key(idOrAlias: string): KmsKey | undefined
  /** Every Authorization header's access key id and whether a session token came with it. */
  readonly seenCredentials: Set<string>
  /** AssumeRoleWithWebIdentity calls answered with credentials. */
  readonly assumedRoles: number
  close(): Promise<void>
}

class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400
  ) {
    super(message)
  }
}

export async function startKmsServer(options: KmsServerOptions = {}): Promise<KmsStandIn> {
  const region = options.region ?? 'eu-west-1'
  const account = options.account ?? '111122223333'
  const accessKeyId = options.accessKeyId ?? 'AKIDTESTCREDBAKE0001'
  const keys: KmsKey[] = []
  const stats: KmsStats = { getPublicKey: 0, sign: 0, signed: 0, throttled: 0, denied: 0, unauthenticated: 0, inFlight: 0, maxInFlight: 0, connections: 0 }
  const seenCredentials = new Set<string>()
  const acceptedKeyIds = new Set([accessKeyId])

  const lastSignatures = new Map<KmsKey, Buffer>()
  const otherKeys = new Map<KmsKey, Pick<KmsKey, 'spec' | 'privateKey'>>()
  /** A key of the same spec as `key`, made on first use: what a misrouted alias would sign with. */
  const otherKeyOf = (key: KmsKey): Pick<KmsKey, 'spec' | 'privateKey'> => {
    let other = otherKeys.get(key)
    if (!other) {
      other = { spec: key.spec, privateKey: generate(key.spec) }
      otherKeys.set(key, other)
    }
    return other
  }
  const digestSigners = new Map<KeyObject, DigestSigner>()
  const signDigest = (key: Pick<KmsKey, 'spec' | 'privateKey'>, hash: 'sha256' | 'sha384' | 'sha512', digest: Buffer): Buffer => {
    if (key.spec.startsWith('RSA_')) return privateEncrypt({ key: key.privateKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([DIGEST_INFO[hash], digest]))
    let signer = digestSigners.get(key.privateKey)
    if (!signer) {
      signer = ecdsaDigestSigner(key.privateKey)
      digestSigners.set(key.privateKey, signer)
    }
    return signer.sign(digest)
  }

  const findKey = (id: string): KmsKey | undefined => {
    const aliasArn = /^arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:(alias\/.+)$/.exec(id)
    const name = aliasArn ? aliasArn[1]! : id
    return keys.find((k) => k.keyId === name || k.arn === name || k.aliases.includes(name))
  }

  const standIn: KmsStandIn = {
    hostPort: '',
    url: '',
    region,
    account,
    accessKeyId,
    latencyMs: options.latencyMs ?? 0,
    throttleSignEvery: 0,
    throttleSignFraction: 0,
    throttleAllSigns: false,
    internalErrorEvery: 0,
    stats,
    seenCredentials,
    assumedRoles: 0,
    addKey(opts: AddKeyOptions = {}): KmsKey {
      const privateKey = opts.privateKeyPem ? createPrivateKey(opts.privateKeyPem) : generate(opts.spec ?? 'ECC_NIST_P256')
      const spec = opts.privateKeyPem ? specOf(privateKey) : (opts.spec ?? 'ECC_NIST_P256')
      const keyId = opts.keyId ?? randomUUID()
      const key: KmsKey = {
        keyId,
        arn: `arn:aws:kms:${region}:${account}:key/${keyId}`,
        aliases: opts.aliases ?? [],
        spec,
        usage: opts.usage ?? 'SIGN_VERIFY',
        privateKey,
        publicKey: createPublicKey(privateKey),
        privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
        state: 'Enabled',
        denied: false,
        signs: 0
      }
      if (spec.startsWith('ECC_')) digestSigners.set(privateKey, ecdsaDigestSigner(privateKey))
      keys.push(key)
      return key
    },
    key: findKey,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    }
  }

  const authenticate = (req: IncomingMessage): void => {
    const header = req.headers.authorization
    if (!header) throw new KmsError('MissingAuthenticationTokenException', 'Missing Authentication Token')
    const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=[^,]+, ?Signature=[0-9a-f]{64}$/.exec(header)
    if (!match) throw new KmsError('IncompleteSignatureException', 'Authorization header is not SigV4')
    const [, akid, , signedRegion, service] = match
    seenCredentials.add(`${akid}${req.headers['x-amz-security-token'] ? '+session' : ''}`)
    if (!acceptedKeyIds.has(akid!)) throw new KmsError('UnrecognizedClientException', 'The security token included in the request is invalid.')
    if (service !== 'kms') throw new KmsError('InvalidSignatureException', `Credential should be scoped to correct service: 'kms'.`)
    if (signedRegion !== region) throw new KmsError('InvalidSignatureException', `Credential should be scoped to a valid region, not '${signedRegion}'.`)
  }

  const usableKey = (body: Record<string, unknown>): KmsKey => {
    const id = body.KeyId
    if (typeof id !== 'string' || id === '')
      throw new KmsError('ValidationException', "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
    const key = findKey(id)
    if (!key)
      throw new KmsError(
        'NotFoundException',
        id.includes('alias/') ? `Alias ${aliasArnOf(id)} is not found.` : `Key '${id.startsWith('arn:') ? id : `arn:aws:kms:${region}:${account}:key/${id}`}' does not exist`
      )
    if (key.denied) {
      stats.denied++
      throw new KmsError(
        'AccessDeniedException',
        `User: arn:aws:sts::${account}:assumed-role/ci/credbake is not authorized to perform: kms:${body.__op} on resource: ${key.arn} because no identity-based policy allows the kms:${body.__op} action`
      )
    }
    if (key.state === 'Disabled') throw new KmsError('DisabledException', `${key.arn} is disabled.`)
    if (key.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`)
    return key
  }

  const aliasArnOf = (id: string): string => (id.startsWith('arn:') ? id : `arn:aws:kms:${region}:${account}:${id}`)

  const getPublicKey = (body: Record<string, unknown>): unknown => {
    stats.getPublicKey++
    const key = usableKey({ ...body, __op: 'GetPublicKey' })
    return {
      KeyId: key.arn,
      PublicKey: key.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
      CustomerMasterKeySpec: key.spec,
      KeySpec: key.spec,
      KeyUsage: key.usage,
      ...(key.usage === 'SIGN_VERIFY' ? { SigningAlgorithms: ALGORITHMS[key.spec] } : { EncryptionAlgorithms: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] })
    }
  }

  const sign = (body: Record<string, unknown>): unknown => {
    stats.sign++
    if (standIn.throttleAllSigns || (standIn.throttleSignEvery > 0 && stats.sign % standIn.throttleSignEvery === 0) || Math.random() < standIn.throttleSignFraction) {
      stats.throttled++
      throw new KmsError('ThrottlingException', 'Rate exceeded')
    }
    if (standIn.internalErrorEvery > 0 && stats.sign % standIn.internalErrorEvery === 0) {
      throw new KmsError('KMSInternalException', 'An internal error occurred.', 500)
    }
    const key = usableKey({ ...body, __op: 'Sign' })
    if (key.denyAfterSigns !== undefined && key.signs >= key.denyAfterSigns) {
      stats.denied++
      throw new KmsError(
        'AccessDeniedException',
        `User: arn:aws:sts::${account}:assumed-role/ci/credbake is not authorized to perform: kms:Sign on resource: ${key.arn} because no identity-based policy allows the kms:Sign action`
      )
    }
    if (key.usage !== 'SIGN_VERIFY') throw new KmsError('InvalidKeyUsageException', `${key.arn} key usage is ENCRYPT_DECRYPT which is not valid for signing.`)
    const algorithm = body.SigningAlgorithm
    if (typeof algorithm !== 'string' || !ALGORITHMS[key.spec].includes(algorithm)) {
      throw new KmsError('InvalidKeyUsageException', `Algorithm ${String(algorithm)} is incompatible with key spec ${key.spec}.`)
    }
    const hash = HASH_OF[algorithm]
    if (!hash) throw new KmsError('ValidationException', `the stand-in does not implement ${algorithm}`)
    if (typeof body.Message !== 'string') throw new KmsError('ValidationException', "Value null at 'message' failed to satisfy constraint: Member must not be null")
    const message = Buffer.from(body.Message, 'base64')
    const messageType = body.MessageType ?? 'RAW'
    let digest: Buffer
    if (messageType === 'DIGEST') {
      if (message.length !== DIGEST_LENGTH[hash]) throw new KmsError('ValidationException', 'Digest is invalid length for algorithm ' + algorithm + '.')
      digest = message
    } else if (messageType === 'RAW') {
      digest = createHash(hash).update(message).digest()
    } else {
      throw new KmsError('ValidationException', `MessageType ${String(messageType)} is not valid.`)
    }
    const fault = key.signFault && key.signs >= key.signFault.afterSigns ? key.signFault.kind : undefined
    let signature: Buffer
    if (fault === 'garbage') signature = randomBytes(71)
    else if (fault === 'repeat' && lastSignatures.has(key)) signature = lastSignatures.get(key)!
    else if (fault === 'other-key') signature = signDigest(otherKeyOf(key), hash, digest)
    else {
      signature = signDigest(key, hash, digest)
      lastSignatures.set(key, signature)
    }
    key.signs++
    stats.signed++
    return { KeyId: key.arn, Signature: signature.toString('base64'), SigningAlgorithm: algorithm }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.inFlight++
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight)
    try {
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      if (standIn.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, standIn.latencyMs))
      let answer: unknown
      try {
        if (req.method !== 'POST' || (req.url ?? '/') !== '/') throw new KmsError('UnknownOperationException', `${req.method} ${req.url}`, 404)
        if (options.webIdentity && String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
          answerSts(res, new URLSearchParams(Buffer.concat(chunks).toString('utf8')))
          return
        }
        if (!String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1'))
          throw new KmsError('SerializationException', 'Content-Type must be application/x-amz-json-1.1')
        try {
          authenticate(req)
        } catch (error) {
          stats.unauthenticated++
          throw error
        }
        let body: Record<string, unknown>
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>
        } catch {
          throw new KmsError('SerializationException', 'body is not JSON')
        }
        const target = req.headers['x-amz-target']
        if (target === 'TrentService.GetPublicKey') answer = getPublicKey(body)
        else if (target === 'TrentService.Sign') answer = sign(body)
        else throw new KmsError('UnknownOperationException', `the stand-in does not implement ${String(target)}`)
      } catch (error) {
        const kmsError = error instanceof KmsError ? error : new KmsError('KMSInternalException', String(error), 500)
        reply(res, kmsError.status, { __type: kmsError.type, message: kmsError.message })
        return
      }
      reply(res, 200, answer)
    } finally {
      stats.inFlight--
    }
  }

  const answerSts = (res: ServerResponse, form: URLSearchParams): void => {
    const xml = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': randomUUID() })
      res.end(body)
    }
    const fail = (code: string, message: string): void =>
      xml(
        400,
        `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`
      )
    const expected = options.webIdentity!
    if (form.get('Action') !== 'AssumeRoleWithWebIdentity') return fail('InvalidAction', `the stand-in does not implement ${form.get('Action')}`)
    if (form.get('RoleArn') !== expected.roleArn) return fail('AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity')
    if (form.get('WebIdentityToken') !== expected.token) return fail('InvalidIdentityToken', 'Incorrect token audience')
    const temporaryKeyId = `ASIA${randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase()}`
    acceptedKeyIds.add(temporaryKeyId)
    ;(standIn as { assumedRoles: number }).assumedRoles++
    const expiration = new Date(Date.now() + 3600_000).toISOString()
    const session = form.get('RoleSessionName') ?? 'session'
    xml(
      200,
      `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>` +
        `<Credentials><AccessKeyId>${temporaryKeyId}</AccessKeyId><SecretAccessKey>${randomUUID()}</SecretAccessKey>` +
        `<SessionToken>${Buffer.from(randomUUID()).toString('base64')}</SessionToken><Expiration>${expiration}</Expiration></Credentials>` +
        `<SubjectFromWebIdentityToken>repo:example/fleet:ref:refs/heads/main</SubjectFromWebIdentityToken>` +
        `<AssumedRoleUser><Arn>${expected.roleArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/')}/${session}</Arn><AssumedRoleId>AROAEXAMPLE:${session}</AssumedRoleId></AssumedRoleUser>` +
        `<Audience>sts.amazonaws.com</Audience><Provider>arn:aws:iam::${account}:oidc-provider/token.actions.githubusercontent.com</Provider>` +
        `</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`
    )
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) reply(res, 500, { __type: 'KMSInternalException', message: String(error) })
    })
  })
  server.on('connection', () => stats.connections++)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  Object.assign(standIn, { hostPort: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}` })
  return standIn
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID()
  })
  res.end(text)
}

function generate(spec: KmsKeySpec): KeyObject {
  switch (spec) {
    case 'ECC_NIST_P256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
    case 'ECC_NIST_P384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey
    default:
      return generateKeyPairSync('rsa', { modulusLength: Number(spec.slice(4)) }).privateKey
  }
}

function specOf(key: KeyObject): KmsKeySpec {
  const details = key.asymmetricKeyDetails ?? {}
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') return 'ECC_NIST_P256'
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'secp384r1') return 'ECC_NIST_P384'
  if (key.asymmetricKeyType === 'rsa' && [2048, 3072, 4096].includes(details.modulusLength ?? 0)) return `RSA_${details.modulusLength}` as KmsKeySpec
  throw new Error(`kms stand-in: unsupported key ${key.asymmetricKeyType} ${details.namedCurve ?? details.modulusLength ?? ''}`)
}
