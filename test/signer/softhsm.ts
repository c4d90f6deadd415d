// SoftHSM2 tokens made inside a test: a private token directory and configuration (SOFTHSM2_CONF),
// keys generated on the token with pkcs11-tool (never extractable), and CA certificates made by
// openssl through the PKCS#11 engine, so the CA key exists only inside the token.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { makePkiDir, openssl, type CaFixture } from '../helpers/pki.js'

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so'

export interface Token {
  dir: string
  conf: string
  label: string
  pin: string
  soPin: string
  /** Environment a child needs to see this token. */
  env: Record<string, string>
}

/** A fresh token with its own tokendir (removed by cleanupPki). */
export function makeToken(opts: { label?: string; pin?: string; soPin?: string } = {}): Token {
  const dir = makePkiDir('credbake-softhsm-')
  const tokens = path.join(dir, 'tokens')
  mkdirSync(tokens)
  const conf = path.join(dir, 'softhsm2.conf')
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`)
  const token: Token = { dir, conf, label: opts.label ?? 'fleet', pin: opts.pin ?? '8462-pin', soPin: opts.soPin ?? '9173-so', env: { SOFTHSM2_CONF: conf } }
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', token.label, '--so-pin', token.soPin, '--pin', token.pin], {
    env: { ...process.env, ...token.env },
    stdio: 'pipe'
  })
  return token
}

export type TokenKeyType = 'EC:prime256v1' | 'EC:secp384r1' | 'rsa:2048'

/** A key pair generated on the token (CKA_SENSITIVE, not extractable). */
export function generateTokenKey(token: Token, opts: { keyType?: TokenKeyType; id: string; label: string }): void {
  execFileSync(
    'pkcs11-tool',
    [
      '--module',
      SOFTHSM_MODULE,
      '--token-label',
      token.label,
      '--login',
      '--pin',
      token.pin,
      '--keypairgen',
      '--key-type',
      opts.keyType ?? 'EC:prime256v1',
      '--id',
      opts.id,
      '--label',
      opts.label,
      '--sensitive'
    ],
    { env: { ...process.env, ...token.env }, stdio: 'pipe' }
  )
}

/** The engine's view of a token key (pin-value only for openssl here, never for credbake). */
function engineKey(token: Token, object: string): string {
  return `pkcs11:token=${encodeURIComponent(token.label)};object=${encodeURIComponent(object)};type=private;pin-value=${encodeURIComponent(token.pin)}`
}

function engineEnv(token: Token): Record<string, string> {
  return { ...token.env, PKCS11_MODULE_PATH: SOFTHSM_MODULE }
}

export interface TokenCa {
  certPath: string
  certPem: string
  /** This CA then its issuers: what fleet-ca-cert holds. */
  chainPem: string
  chainPath: string
}

const CA_EXTENSIONS = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign', 'subjectKeyIdentifier=hash']

/** A self-signed root CA whose key is token object `object`. */
export function makeTokenRootCa(token: Token, opts: { object: string; subject?: string; digest?: string; days?: number }): TokenCa {
  const dir = makePkiDir()
  const certPath = path.join(dir, `${opts.object}.pem`)
  openssl(
    [
      'req',
      '-new',
      '-x509',
      '-engine',
      'pkcs11',
      '-keyform',
      'engine',
      '-key',
      engineKey(token, opts.object),
      `-${opts.digest ?? 'sha256'}`,
      '-subj',
      opts.subject ?? `/CN=credbake token root ${opts.object}/O=credbake tests`,
      '-days',
      String(opts.days ?? 3650),
      ...CA_EXTENSIONS.flatMap((extension) => ['-addext', extension]),
      '-out',
      certPath
    ],
    { env: engineEnv(token) }
  )
  const certPem = readFileSync(certPath, 'utf8')
  return { certPath, certPem, chainPem: certPem, chainPath: certPath }
}

/** An intermediate CA whose key is token object `object`, signed by `issuer` (a file-key root). */
export function makeTokenIntermediateCa(token: Token, issuer: CaFixture, opts: { object: string; subject?: string; digest?: string }): TokenCa {
  const dir = makePkiDir()
  const csrPath = path.join(dir, `${opts.object}.csr`)
  const certPath = path.join(dir, `${opts.object}.pem`)
  const extPath = path.join(dir, 'ca.ext')
  openssl(
    [
      'req',
      '-new',
      '-engine',
      'pkcs11',
      '-keyform',
      'engine',
      '-key',
      engineKey(token, opts.object),
      `-${opts.digest ?? 'sha256'}`,
      '-subj',
      opts.subject ?? `/CN=credbake token intermediate ${opts.object}/O=credbake tests`,
      '-out',
      csrPath
    ],
    { env: engineEnv(token) }
  )
  writeFileSync(
    extPath,
    `[v3]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n`
  )
  openssl([
    'x509',
    '-req',
    '-in',
    csrPath,
    '-CA',
    issuer.certPath,
    '-CAkey',
    issuer.keyPath,
    '-set_serial',
    '0x1234',
    '-days',
    '1825',
    '-sha256',
    '-extfile',
    extPath,
    '-extensions',
    'v3',
    '-out',
    certPath
  ])
  const certPem = readFileSync(certPath, 'utf8')
  const chainPath = path.join(dir, `${opts.object}.chain.pem`)
  const chainPem = certPem + issuer.chainPem
  writeFileSync(chainPath, chainPem)
  return { certPath, certPem, chainPem, chainPath }
}

/**
 * A misconfigured token: the public-key object of key `id` is replaced by a copy of key
 * `publicOf`'s public key, so the token shows one key and signs with another (what a slot set up by
 * hand, or a public key re-imported under the wrong id, looks like).
 */
export function mislabelPublicKey(token: Token, opts: { id: string; label: string; publicOf: string }): void {
  const pkcs11 = (args: string[]): void => {
    execFileSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', token.label, '--login', '--pin', token.pin, ...args], {
      env: { ...process.env, ...token.env },
      stdio: 'pipe'
    })
  }
  const der = path.join(token.dir, `public-${opts.publicOf}.der`)
  pkcs11(['--read-object', '--type', 'pubkey', '--id', opts.publicOf, '-o', der])
  pkcs11(['--delete-object', '--type', 'pubkey', '--id', opts.id])
  pkcs11(['--write-object', der, '--type', 'pubkey', '--id', opts.id, '--label', opts.label])
}

/**
 * Puts the token in the locked-PIN state. SoftHSM2 counts no wrong PINs, so the test sets
 * CKF_USER_PIN_LOCKED in the token's stored flags (attribute CKA_OS_TOKENFLAGS, 0x8000534B, of
 * token.object), which is where SoftHSM keeps the state C_GetTokenInfo and C_Login report.
 */
export function lockUserPin(token: Token): void {
  const [folder] = readdirSync(path.join(token.dir, 'tokens'))
  const file = path.join(token.dir, 'tokens', folder as string, 'token.object')
  const bytes = readFileSync(file)
  const marker = Buffer.from('000000008000534b0000000000000002', 'hex')
  const at = bytes.indexOf(marker)
  if (at < 0) throw new Error('CKA_OS_TOKENFLAGS not found in token.object')
  const value = at + marker.length
  bytes.writeBigUInt64BE(bytes.readBigUInt64BE(value) | 0x40000n, value)
  writeFileSync(file, bytes)
}
