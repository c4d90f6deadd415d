// The awskms: signer through the real @aws-sdk/client-kms against the KMS stand-in on 127.0.0.1
// (test/helpers/kms-server.ts), reached through the endpoint in the URI. Signatures are checked
// with node:crypto and with openssl.
import { randomBytes, verify } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { FleetCaError } from '../../src/errors.js'
import { awsKmsSignerFactory, CONCURRENCY, createAwsKmsSignerFactory } from '../../src/signer/awskms.js'
import type { CaSigner } from '../../src/signer/types.js'
import { startKmsServer, type KmsKey, type KmsStandIn } from '../helpers/kms-server.js'
import { cleanupPki, makePkiDir, openssl } from '../helpers/pki.js'

const ACCESS_KEY_ID = 'AKIDTESTCREDBAKE0001'
const SECRET = 'credbake-test-secret-do-not-print/0123456789'
const AWS_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_PROFILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CONFIG_FILE',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_ROLE_ARN',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_STS',
  'AWS_ENDPOINT_URL_KMS',
  'AWS_ROLE_SESSION_NAME'
]

// Quick backoff so throttling tests take milliseconds.
const fast = createAwsKmsSignerFactory({ baseDelayMs: 1, maxDelayMs: 4 })

let kms: KmsStandIn
let p256: KmsKey
let p384: KmsKey
let rsa: KmsKey
let dir: string
const saved: Record<string, string | undefined> = {}
const opened: CaSigner[] = []

function setCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = ACCESS_KEY_ID
  process.env.AWS_SECRET_ACCESS_KEY = SECRET
  process.env.AWS_REGION = 'eu-west-1'
  delete process.env.AWS_SESSION_TOKEN
  delete process.env.AWS_DEFAULT_REGION
  delete process.env.AWS_ROLE_ARN
  delete process.env.AWS_WEB_IDENTITY_TOKEN_FILE
  delete process.env.AWS_ENDPOINT_URL_STS
}

beforeAll(async () => {
  for (const name of AWS_ENV) saved[name] = process.env[name]
  for (const name of AWS_ENV) delete process.env[name]
  dir = makePkiDir('credbake-awskms-')
  // Never read this machine's ~/.aws or instance metadata.
  process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(dir, 'no-credentials')
  process.env.AWS_CONFIG_FILE = path.join(dir, 'no-config')
  process.env.AWS_EC2_METADATA_DISABLED = 'true'
  setCredentials()
  kms = await startKmsServer({ accessKeyId: ACCESS_KEY_ID, region: 'eu-west-1' })
  p256 = kms.addKey({ spec: 'ECC_NIST_P256', aliases: ['alias/fleet'] })
  p384 = kms.addKey({ spec: 'ECC_NIST_P384', aliases: ['alias/fleet-384'] })
  rsa = kms.addKey({ spec: 'RSA_2048', aliases: ['alias/fleet-rsa'] })
})

afterEach(async () => {
  setCredentials()
  kms.latencyMs = 0
  kms.throttleAllSigns = false
  kms.throttleSignEvery = 0
  kms.throttleSignFraction = 0
  kms.internalErrorEvery = 0
  for (const signer of opened.splice(0)) await signer.close()
})

afterAll(async () => {
  await kms.close()
  for (const name of AWS_ENV) {
    if (saved[name] === undefined) delete process.env[name]
    else process.env[name] = saved[name]
  }
  cleanupPki()
})

async function open(reference: string, factory = fast): Promise<CaSigner> {
  const signer = await factory.open(reference, {})
  opened.push(signer)
  return signer
}

async function failure(promise: Promise<unknown>): Promise<FleetCaError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(FleetCaError)
    const fleetCaError = error as FleetCaError
    expect(fleetCaError.input).toBe('fleet-ca-key')
    expect(fleetCaError.message).not.toContain(SECRET)
    expect(fleetCaError.message).not.toContain(ACCESS_KEY_ID)
    return fleetCaError
  }
  throw new Error('expected a FleetCaError, got success')
}

function opensslVerifies(signer: CaSigner, tbs: Buffer, signature: Buffer): boolean {
  const pub = path.join(dir, 'pub.pem')
  writeFileSync(pub, signer.publicKey.export({ format: 'pem', type: 'spki' }))
  writeFileSync(path.join(dir, 'tbs.bin'), tbs)
  writeFileSync(path.join(dir, 'sig.bin'), signature)
  try {
    return /Verified OK/.test(openssl(['dgst', `-${signer.hash}`, '-verify', pub, '-signature', path.join(dir, 'sig.bin'), path.join(dir, 'tbs.bin')]))
  } catch {
    return false
  }
}

describe('awskms: signing through the real AWS SDK', () => {
  it('is the factory for awskms:// references', () => {
    expect(awsKmsSignerFactory.name).toBe('awskms')
    expect(awsKmsSignerFactory.accepts('awskms:///alias/fleet')).toBe(true)
    expect(awsKmsSignerFactory.accepts('pkcs11:token=x')).toBe(false)
    expect(awsKmsSignerFactory.accepts('exec:/bin/signer')).toBe(false)
  })

  it.each([
    ['P-256', () => p256, 'alias/fleet', 'sha256', 'prime256v1'],
    ['P-384', () => p384, 'alias/fleet-384', 'sha384', 'secp384r1'],
    ['RSA-2048', () => rsa, 'alias/fleet-rsa', 'sha256', undefined]
  ])('%s: opens, signs and the signatures verify with node and openssl', async (_name, key, alias, hash, curve) => {
    const signer = await open(`awskms://${kms.hostPort}/${alias}`, awsKmsSignerFactory)
    expect(signer.hash).toBe(hash)
    expect(signer.concurrency).toBe(CONCURRENCY)
    expect(signer.inProcessKey).toBeUndefined()
    expect(signer.publicKey.export({ format: 'der', type: 'spki' })).toEqual(key().publicKey.export({ format: 'der', type: 'spki' }))
    if (curve) expect(signer.publicKey.asymmetricKeyDetails?.namedCurve).toBe(curve)
    expect(signer.description).toContain(alias)
    expect(signer.description).toContain(`http://${kms.hostPort}`)
    const tbs = randomBytes(700)
    const signature = await signer.sign(tbs)
    expect(verify(hash, tbs, signer.publicKey, signature)).toBe(true)
    expect(opensslVerifies(signer, tbs, signature)).toBe(true)
    // The check can fail: another message does not verify.
    expect(verify(hash, randomBytes(700), signer.publicKey, signature)).toBe(false)
    expect(opensslVerifies(signer, Buffer.concat([tbs, Buffer.from([0])]), signature)).toBe(false)
    if (curve)
      expect(signature[0]).toBe(0x30) // DER Ecdsa-Sig-Value
    else expect(signature.length).toBe(256)
  })

  it('finds the key by ID, key ARN, alias and alias ARN', async () => {
    const aliasArn = `arn:aws:kms:eu-west-1:${kms.account}:alias/fleet`
    for (const keyText of [p256.keyId, p256.arn, 'alias/fleet', aliasArn]) {
      const signer = await open(`awskms://${kms.hostPort}/${keyText}`)
      const tbs = randomBytes(100)
      expect(verify('sha256', tbs, p256.publicKey, await signer.sign(tbs))).toBe(true)
      expect(signer.description).toContain(keyText)
    }
  })

  it('takes the region from a key ARN over AWS_REGION', async () => {
    process.env.AWS_REGION = 'us-east-1' // the stand-in only accepts requests signed for eu-west-1
    const signer = await open(`awskms://${kms.hostPort}/${p256.arn}`)
    expect(signer.description).toContain('eu-west-1')
    const error = await failure(open(`awskms://${kms.hostPort}/alias/fleet`))
    expect(error.message).toMatch(/did not accept the AWS credentials \(InvalidSignatureException\)/)
  })

  it('reads the region from AWS_DEFAULT_REGION when AWS_REGION is unset', async () => {
    delete process.env.AWS_REGION
    process.env.AWS_DEFAULT_REGION = 'eu-west-1'
    const signer = await open(`awskms://${kms.hostPort}/alias/fleet`)
    expect(signer.description).toContain('eu-west-1')
  })

  it('sends the session token of temporary credentials', async () => {
    process.env.AWS_SESSION_TOKEN = 'FwoGZXIvYXdzEXAMPLESESSIONTOKEN'
    const signer = await open(`awskms://${kms.hostPort}/alias/fleet`)
    await signer.sign(randomBytes(10))
    expect(kms.seenCredentials.has(`${ACCESS_KEY_ID}+session`)).toBe(true)
  })

  it('GitHub OIDC through web identity: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, STS answering with temporary credentials', async () => {
    const roleArn = 'arn:aws:iam::111122223333:role/credbake-fleet-ca'
    const token = 'eyJhbGciOiJSUzI1NiJ9.github-oidc-token-for-tests.c2lnbmF0dXJl'
    const oidc = await startKmsServer({ accessKeyId: 'AKIDNOTUSEDBYTHISTEST', region: 'eu-west-1', webIdentity: { roleArn, token } })
    try {
      const key = oidc.addKey({ spec: 'ECC_NIST_P256', aliases: ['alias/fleet'] })
      const tokenFile = path.join(dir, 'oidc-token')
      writeFileSync(tokenFile, token)
      delete process.env.AWS_ACCESS_KEY_ID
      delete process.env.AWS_SECRET_ACCESS_KEY
      process.env.AWS_ROLE_ARN = roleArn
      process.env.AWS_WEB_IDENTITY_TOKEN_FILE = tokenFile
      process.env.AWS_ENDPOINT_URL_STS = oidc.url
      const signer = await open(`awskms://${oidc.hostPort}/alias/fleet`)
      const tbs = randomBytes(300)
      expect(verify('sha256', tbs, key.publicKey, await signer.sign(tbs))).toBe(true)
      expect(oidc.assumedRoles).toBe(1)
      expect([...oidc.seenCredentials].every((id) => /^ASIA[0-9A-F]{16}\+session$/.test(id))).toBe(true)
      // A token the role does not trust: the STS refusal reaches the user as a credentials problem.
      writeFileSync(tokenFile, 'another-token')
      const error = await failure(open(`awskms://${oidc.hostPort}/alias/fleet`))
      expect(error.message).toMatch(
        /^fleet-ca-key alias\/fleet: AWS STS refused the web identity \(InvalidIdentityTokenException\).*trust policy.*id-token: write\. STS said: Incorrect token audience/
      )
      expect(error.message).not.toContain('another-token')
    } finally {
      await oidc.close()
    }
  })

  it('keeps at most `concurrency` requests in flight', async () => {
    kms.latencyMs = 5
    kms.stats.maxInFlight = 0
    const signer = await open(`awskms://${kms.hostPort}/alias/fleet`, createAwsKmsSignerFactory({ concurrency: 4 }))
    expect(signer.concurrency).toBe(4)
    const tbs = Array.from({ length: 40 }, () => randomBytes(50))
    const signatures = await Promise.all(tbs.map((t) => signer.sign(t)))
    signatures.forEach((signature, i) => expect(verify('sha256', tbs[i]!, p256.publicKey, signature)).toBe(true))
    expect(kms.stats.maxInFlight).toBeGreaterThan(1)
    expect(kms.stats.maxInFlight).toBeLessThanOrEqual(4)
  })

  it('retries ThrottlingException and succeeds', async () => {
    const signer = await open(`awskms://${kms.hostPort}/alias/fleet`)
    const throttledBefore = kms.stats.throttled
    kms.throttleSignEvery = 3
    kms.throttleSignFraction = 0.2
    const tbs = Array.from({ length: 100 }, () => randomBytes(64))
    const signatures = await Promise.all(tbs.map((t) => signer.sign(t)))
    signatures.forEach((signature, i) => expect(verify('sha256', tbs[i]!, p256.publicKey, signature)).toBe(true))
    expect(kms.stats.throttled - throttledBefore).toBeGreaterThan(20)
  })

  it('gives up on endless throttling with a clear error', async () => {
    const signer = await open(`awskms://${kms.hostPort}/alias/fleet`)
    kms.throttleAllSigns = true
    const error = await failure(signer.sign(randomBytes(32)))
    expect(error.message).toMatch(/^fleet-ca-key alias\/fleet: AWS KMS .* kept throttling Sign after 10 retries/)
    expect(error.message).toMatch(/quota/)
    expect(error.message).toMatch(/Service Quotas/)
  })

  it('retries KMSInternalException (HTTP 500) a few times, then names it', async () => {
    const signer = await open(`awskms://${kms.hostPort}/alias/fleet`)
    kms.internalErrorEvery = 4
    const tbs = Array.from({ length: 40 }, () => randomBytes(64))
    // One at a time: with many in flight, the same request could draw every 4th answer four times
    // running and exhaust its retries (a flake, not a bug); in turn each retry is the next call.
    const signatures: Buffer[] = []
    for (const t of tbs) signatures.push(await signer.sign(t))
    signatures.forEach((signature, i) => expect(verify('sha256', tbs[i]!, p256.publicKey, signature)).toBe(true))
    kms.internalErrorEvery = 1
    const error = await failure(signer.sign(randomBytes(8)))
    expect(error.message).toMatch(/^fleet-ca-key alias\/fleet: AWS KMS .*: Sign failed \(KMSInternalException, HTTP 500\)\. KMS said: An internal error occurred\./)
  })

  it('AccessDeniedException names the key and the permissions the role needs', async () => {
    const denied = kms.addKey({ spec: 'ECC_NIST_P256', aliases: ['alias/denied'] })
    denied.denied = true
    const error = await failure(open(`awskms://${kms.hostPort}/alias/denied`))
    expect(error.message).toMatch(/^fleet-ca-key alias\/denied: AWS KMS .* denied GetPublicKey: the role needs kms:Sign and kms:GetPublicKey on alias\/denied/)
    expect(error.message).toContain('KMS said: User: arn:aws:sts::')
  })

  it('AccessDeniedException on Sign (the policy allows GetPublicKey only) fails the signature', async () => {
    const halfAllowed = kms.addKey({ spec: 'ECC_NIST_P256', aliases: ['alias/half'] })
    halfAllowed.denyAfterSigns = 2
    const signer = await open(`awskms://${kms.hostPort}/alias/half`)
    await signer.sign(randomBytes(8))
    await signer.sign(randomBytes(8))
    const error = await failure(signer.sign(randomBytes(8)))
    expect(error.message).toMatch(/denied Sign: the role needs kms:Sign and kms:GetPublicKey on alias\/half/)
  })

  it('a disabled key and a key pending deletion are named as such', async () => {
    const disabled = kms.addKey({ spec: 'ECC_NIST_P256', aliases: ['alias/disabled'] })
    disabled.state = 'Disabled'
    const disabledError = await failure(open(`awskms://${kms.hostPort}/alias/disabled`))
    expect(disabledError.message).toMatch(/^fleet-ca-key alias\/disabled: .*the key is disabled/)
    const pending = kms.addKey({ spec: 'ECC_NIST_P256' })
    pending.state = 'PendingDeletion'
    const pendingError = await failure(open(`awskms://${kms.hostPort}/${pending.keyId}`))
    expect(pendingError.message).toMatch(/pending deletion/)
    expect(pendingError.message).toContain(pending.keyId)
  })

  it('NotFoundException names the key', async () => {
    const error = await failure(open(`awskms://${kms.hostPort}/alias/nope`))
    expect(error.message).toMatch(/^fleet-ca-key alias\/nope: AWS KMS .*: no such key or alias in this account and region/)
    const byId = await failure(open(`awskms://${kms.hostPort}/00000000-0000-4000-8000-000000000000`))
    expect(byId.message).toMatch(/no such key or alias/)
  })

  it('refuses a key that cannot sign (ENCRYPT_DECRYPT)', async () => {
    kms.addKey({ spec: 'RSA_2048', aliases: ['alias/encrypt'], usage: 'ENCRYPT_DECRYPT' })
    const error = await failure(open(`awskms://${kms.hostPort}/alias/encrypt`))
    expect(error.message).toMatch(/usage is ENCRYPT_DECRYPT.*key usage SIGN_VERIFY/)
  })

  it('no credentials: a clear error that points at configure-aws-credentials', async () => {
    delete process.env.AWS_ACCESS_KEY_ID
    delete process.env.AWS_SECRET_ACCESS_KEY
    const error = await failure(open(`awskms://${kms.hostPort}/alias/fleet`))
    expect(error.message).toMatch(/^fleet-ca-key alias\/fleet: no AWS credentials found/)
    expect(error.message).toMatch(/aws-actions\/configure-aws-credentials/)
  })

  it('wrong credentials: KMS refusing them is named', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIDSOMEBODYELSE0000'
    const error = await failure(open(`awskms://${kms.hostPort}/alias/fleet`))
    expect(error.message).toMatch(/did not accept the AWS credentials \(UnrecognizedClientException\)/)
    expect(error.message).not.toContain('AKIDSOMEBODYELSE0000')
  })

  it('no region: a clear error', async () => {
    delete process.env.AWS_REGION
    const error = await failure(open(`awskms://${kms.hostPort}/alias/fleet`))
    expect(error.message).toMatch(/^fleet-ca-key alias\/fleet: no AWS region. Set AWS_REGION/)
  })

  it('an endpoint nobody listens on: a clear error', async () => {
    const gone = await startKmsServer()
    const hostPort = gone.hostPort
    await gone.close()
    const error = await failure(open(`awskms://${hostPort}/alias/fleet`))
    expect(error.message).toMatch(/^fleet-ca-key alias\/fleet: AWS KMS \(eu-west-1, endpoint http:\/\/127\.0\.0\.1:\d+\) cannot be reached \(ECONNREFUSED/)
  })

  it('an endpoint host that does not resolve: a clear error naming it (https for non-loopback hosts)', async () => {
    const error = await failure(open('awskms://kms.nonexistent.invalid/alias/fleet'))
    expect(error.message).toMatch(/^fleet-ca-key alias\/fleet: AWS KMS \(eu-west-1, endpoint https:\/\/kms\.nonexistent\.invalid\) cannot be reached \((ENOTFOUND|EAI_AGAIN)/)
  })

  it('an endpoint that is not KMS: a clear error', async () => {
    const { createServer } = await import('node:http')
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<html>not kms</html>')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as { port: number }).port
      const error = await failure(open(`awskms://127.0.0.1:${port}/alias/fleet`))
      expect(error.message).toMatch(/^fleet-ca-key alias\/fleet: AWS KMS \(eu-west-1, endpoint http:\/\/127\.0\.0\.1:\d+\)/)
      expect(error.message).toMatch(/not a KMS response|GetPublicKey/)
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('warns that a passphrase or pkcs11-module means nothing to a KMS key (without printing it)', async () => {
    const warnings: string[] = []
    const signer = await fast.open(`awskms://${kms.hostPort}/alias/fleet`, { passphrase: 'pin-1234-secret', pkcs11Module: '/usr/lib/x.so', warn: (m) => warnings.push(m) })
    opened.push(signer)
    expect(warnings).toHaveLength(2)
    expect(warnings[0]).toMatch(/fleet-ca-key-passphrase is ignored for the AWS KMS key alias\/fleet/)
    expect(warnings.join('\n')).not.toContain('pin-1234-secret')
  })

  it('close() is safe twice', async () => {
    const signer = await awsKmsSignerFactory.open(`awskms://${kms.hostPort}/alias/fleet`, {})
    await signer.close()
    await signer.close()
  })
})
