/**
 * Test PKI made with the real `openssl` CLI, so fixtures never share code (or bugs) with the
 * issuer under test. Everything is synchronous: call it from `beforeAll`.
 *
 * Typical use:
 *
 *   const root = makeRootCa({ keyType: 'ec-p256' })
 *   const fleet = makeIntermediateCa(root, { keyType: 'ec-p384' })
 *   // fleet.chainPem = fleet CA then root: what the `fleet-ca-cert` input holds for an intermediate
 *   const result = opensslVerify([deviceCertPem], { trustedPem: root.certPem, untrustedPems: [fleet.certPem] })
 *   afterAll(cleanupPki)
 *
 * Every fixture lives in a temp directory (`makePkiDir`, or `opts.dir`); `cleanupPki()` removes
 * all directories this module created in the current test file.
 *
 * Date control (expired CAs, CAs ending soon) uses `openssl ca -startdate/-enddate`, which
 * OpenSSL 3.0 supports, where `req -x509` cannot back-date.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** Key types of the fixtures: credbake's device key types plus P-521 (a CA may use it). */
export type FixtureKeyType = 'ec-p256' | 'ec-p384' | 'ec-p521' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096' | 'ed25519'

export interface KeyFixture {
  keyType: FixtureKeyType
  /** Unencrypted PKCS#8 PEM ("PRIVATE KEY"), as `openssl genpkey` writes it. */
  pem: string
  path: string
}

export interface CertFixture {
  name: string
  dir: string
  keyType: FixtureKeyType
  key: KeyFixture
  /** Convenience copies of `key.path` / `key.pem`. */
  keyPath: string
  keyPem: string
  certPath: string
  certPem: string
  certDer: Buffer
  /** Subject in openssl `-subj` form, e.g. "/CN=credbake test root/O=credbake tests". */
  subject: string
  notBefore: Date
  notAfter: Date
  /** The issuing fixture; undefined when self-signed. */
  issuer?: CertFixture
  /** This certificate followed by every issuer up to the root (the `fleet-ca-cert` input form). */
  chainPem: string
  chainPath: string
  /** Whether the certificate has a subjectKeyIdentifier (issuers below use it for AKI). */
  hasSubjectKeyIdentifier: boolean
}

/** A CA fixture is a certificate fixture; the alias documents intent at call sites. */
export type CaFixture = CertFixture

export interface CertOptions {
  /** Default 'ec-p256'. Ignored when `key` is given. */
  keyType?: FixtureKeyType
  /** Reuse an existing key (e.g. to make two certificates for one key). */
  key?: KeyFixture
  /** openssl `-subj` form. Default "/CN=credbake test <name>/O=credbake tests". */
  subject?: string
  /** File stem inside the directory; default derived from the kind and a counter. */
  name?: string
  /** Directory for the files; default a fresh `makePkiDir()`. */
  dir?: string
  /** Default: one day ago (so device certificates back-dated by minutes still nest). */
  notBefore?: Date
  /** Default: notBefore + `days`. */
  notAfter?: Date
  /** Validity length when `notAfter` is not given. Default 3650 for CAs, 365 otherwise. */
  days?: number
  /** openssl extension value, or null to omit the extension. */
  basicConstraints?: string | null
  /** openssl extension value, or null to omit the extension. */
  keyUsage?: string | null
  /** openssl extension value, or null to omit the extension. */
  extendedKeyUsage?: string | null
  /** Default true. False makes a certificate without SKI (and, self-signed, without AKI). */
  subjectKeyIdentifier?: boolean
}

export interface KeyFormats {
  /** Unencrypted PKCS#8 ("PRIVATE KEY"). */
  pkcs8: PemFile
  /** PBES2 / AES-256-CBC encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY") under `passphrase`. */
  encryptedPkcs8: PemFile
  passphrase: string
  /** SEC1 ("EC PRIVATE KEY"); only for EC keys. */
  sec1?: PemFile
  /** PKCS#1 ("RSA PRIVATE KEY"); only for RSA keys. */
  pkcs1?: PemFile
}

export interface PemFile {
  path: string
  pem: string
}

export interface CsrFixture {
  csrPath: string
  csrPem: string
  key: KeyFixture
}

export interface VerifyResult {
  /** True when openssl accepted every certificate. */
  ok: boolean
  /** Indexes (into the input array) of certificates openssl rejected. */
  rejected: number[]
  /** openssl's combined stdout and stderr, for assertion messages. */
  output: string
}

const createdDirs: string[] = []
let fileCounter = 0

/** A fresh temp directory that `cleanupPki()` removes. */
export function makePkiDir(prefix = 'credbake-pki-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  createdDirs.push(dir)
  return dir
}

/** Removes every directory made by this module (call from `afterAll`). */
export function cleanupPki(): void {
  for (const dir of createdDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/**
 * Runs openssl and returns stdout; throws with openssl's stderr on a non-zero exit.
 * `env` is added to the environment (used to pass passphrases without putting them in argv).
 */
export function openssl(args: string[], opts: { cwd?: string; input?: string | Buffer; env?: Record<string, string> } = {}): string {
  try {
    return execFileSync('openssl', args, {
      cwd: opts.cwd,
      input: opts.input,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 256 * 1024 * 1024
    }).toString('utf8')
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString('utf8') ?? ''
    throw new Error(`openssl ${args.join(' ')} failed: ${stderr.trim()}`)
  }
}

/** Generates a key with `openssl genpkey`, written as unencrypted PKCS#8. */
export function generateKey(keyType: FixtureKeyType, opts: { dir?: string; name?: string } = {}): KeyFixture {
  const dir = opts.dir ?? makePkiDir()
  const keyPath = path.join(dir, `${opts.name ?? nextName('key')}.key.pem`)
  openssl(['genpkey', ...genpkeyArgs(keyType), '-out', keyPath])
  return { keyType, path: keyPath, pem: readFileSync(keyPath, 'utf8') }
}

/** A self-signed CA: basicConstraints critical CA:TRUE, keyUsage critical keyCertSign+cRLSign, SKI, AKI. */
export function makeRootCa(opts: CertOptions = {}): CaFixture {
  return makeCertificate(undefined, { days: 3650, ...caDefaults, ...opts, name: opts.name ?? nextName('root-ca') })
}

/** A CA signed by `issuer`; its `chainPem` is itself followed by the issuer's chain. */
export function makeIntermediateCa(issuer: CaFixture, opts: CertOptions = {}): CaFixture {
  return makeCertificate(issuer, {
    days: 1825,
    ...caDefaults,
    basicConstraints: 'critical,CA:TRUE,pathlen:0',
    ...opts,
    name: opts.name ?? nextName('intermediate-ca')
  })
}

/** A self-signed CA whose validity ended yesterday (began two years ago). */
export function makeExpiredCa(opts: CertOptions = {}): CaFixture {
  const now = Date.now()
  return makeRootCa({
    notBefore: new Date(now - 730 * DAY_MS),
    notAfter: new Date(now - DAY_MS),
    name: nextName('expired-ca'),
    ...opts
  })
}

/** A self-signed CA whose validity starts in a week. */
export function makeNotYetValidCa(opts: CertOptions = {}): CaFixture {
  const now = Date.now()
  return makeRootCa({ notBefore: new Date(now + 7 * DAY_MS), days: 3650, name: nextName('future-ca'), ...opts })
}

/**
 * An end-entity certificate (basicConstraints critical CA:FALSE, keyUsage digitalSignature):
 * signed by `opts.issuer`, or self-signed when there is none. Used as "not a CA".
 */
export function makeNonCaCert(opts: CertOptions & { issuer?: CaFixture } = {}): CertFixture {
  const { issuer, ...rest } = opts
  return makeCertificate(issuer, {
    days: 365,
    basicConstraints: 'critical,CA:FALSE',
    keyUsage: 'critical,digitalSignature',
    extendedKeyUsage: 'clientAuth',
    ...rest,
    name: rest.name ?? nextName('end-entity')
  })
}

/**
 * The key in every format credbake accepts, as separate files next to it. `sec1` exists for EC
 * keys, `pkcs1` for RSA keys (Ed25519 has only PKCS#8).
 */
export function keyFormats(key: KeyFixture, opts: { passphrase?: string; dir?: string } = {}): KeyFormats {
  const dir = opts.dir ?? path.dirname(key.path)
  const stem = path.join(dir, path.basename(key.path, '.key.pem'))
  const passphrase = opts.passphrase ?? 'correct horse battery staple'
  const write = (suffix: string, pem: string): PemFile => {
    const file = `${stem}.${suffix}.pem`
    writeFileSync(file, pem)
    return { path: file, pem }
  }
  const formats: KeyFormats = {
    pkcs8: write('pkcs8', openssl(['pkey', '-in', key.path])),
    encryptedPkcs8: write(
      'pkcs8-encrypted',
      openssl(['pkcs8', '-topk8', '-in', key.path, '-v2', 'aes-256-cbc', '-passout', 'env:CREDBAKE_FIXTURE_PASSPHRASE'], {
        env: { CREDBAKE_FIXTURE_PASSPHRASE: passphrase }
      })
    ),
    passphrase
  }
  // `pkey -traditional` writes SEC1 for EC and PKCS#1 for RSA keys.
  if (key.keyType.startsWith('ec-')) formats.sec1 = write('sec1', openssl(['pkey', '-in', key.path, '-traditional']))
  if (key.keyType.startsWith('rsa-')) formats.pkcs1 = write('pkcs1', openssl(['pkey', '-in', key.path, '-traditional']))
  return formats
}

/** A PEM certificate signing request made by `openssl req -new` for a fresh key. */
export function makeCsr(opts: { keyType?: FixtureKeyType; subject?: string; dir?: string; name?: string } = {}): CsrFixture {
  const dir = opts.dir ?? makePkiDir()
  const name = opts.name ?? nextName('csr')
  const key = generateKey(opts.keyType ?? 'ec-p256', { dir, name })
  const csrPath = path.join(dir, `${name}.csr.pem`)
  openssl(['req', '-new', '-utf8', '-key', key.path, '-subj', opts.subject ?? `/CN=${name}`, '-out', csrPath])
  return { csrPath, csrPem: readFileSync(csrPath, 'utf8'), key }
}

/**
 * `openssl verify -x509_strict -purpose <purpose>` on many certificates in one process run.
 * Only `trustedPem` is trusted; `untrustedPems` (intermediates) may be used to build the path.
 */
export function opensslVerify(certPems: string[], opts: { trustedPem: string; untrustedPems?: string[]; purpose?: string; strict?: boolean }): VerifyResult {
  const dir = makePkiDir('credbake-verify-')
  try {
    const trusted = path.join(dir, 'trusted.pem')
    writeFileSync(trusted, opts.trustedPem)
    const args = ['verify', '-CAfile', trusted, '-purpose', opts.purpose ?? 'sslclient']
    if (opts.strict ?? true) args.push('-x509_strict')
    if (opts.untrustedPems?.length) {
      const untrusted = path.join(dir, 'untrusted.pem')
      writeFileSync(untrusted, opts.untrustedPems.join(''))
      args.push('-untrusted', untrusted)
    }
    const files = certPems.map((pem, index) => {
      const file = path.join(dir, `cert-${index}.pem`)
      writeFileSync(file, pem)
      return file
    })
    let output: string
    try {
      output = execFileSync('openssl', [...args, ...files], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 }).toString('utf8')
    } catch (error) {
      const failure = error as { stdout?: Buffer; stderr?: Buffer }
      output = `${failure.stdout?.toString('utf8') ?? ''}${failure.stderr?.toString('utf8') ?? ''}`
    }
    // openssl prints "<file>: OK" for each accepted certificate and nothing of the kind otherwise.
    const accepted = new Set(
      output
        .split('\n')
        .filter((line) => line.endsWith(': OK'))
        .map((line) => line.slice(0, -4))
    )
    const rejected = files.flatMap((file, index) => (accepted.has(file) ? [] : [index]))
    return { ok: rejected.length === 0 && files.length > 0, rejected, output }
  } finally {
    rmSync(dir, { recursive: true, force: true })
    createdDirs.splice(createdDirs.indexOf(dir), 1)
  }
}

/** `openssl x509 -noout -text` of one certificate. */
export function opensslText(certPem: string): string {
  return openssl(['x509', '-noout', '-text'], { input: certPem })
}

/**
 * GnuTLS `certtool -i` over every certificate in the given PEM text (one run). Throws when
 * certtool rejects the input; returns its report otherwise.
 */
export function certtoolInfo(pemText: string): string {
  try {
    return execFileSync('certtool', ['-i'], { input: pemText, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 512 * 1024 * 1024 }).toString('utf8')
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString('utf8') ?? ''
    throw new Error(`certtool -i failed: ${stderr.trim()}`)
  }
}

const DAY_MS = 86_400_000

const caDefaults: CertOptions = {
  basicConstraints: 'critical,CA:TRUE',
  keyUsage: 'critical,keyCertSign,cRLSign'
}

function nextName(kind: string): string {
  fileCounter += 1
  return `${kind}-${fileCounter}`
}

function genpkeyArgs(keyType: FixtureKeyType): string[] {
  switch (keyType) {
    case 'ec-p256':
      return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']
    case 'ec-p384':
      return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']
    case 'ec-p521':
      return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521']
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${keyType.slice(4)}`]
    case 'ed25519':
      return ['-algorithm', 'ED25519']
  }
}

/** The digest a CA with this key signs with, matching what credbake itself would choose. */
function digestFor(keyType: FixtureKeyType): string {
  if (keyType === 'ec-p384') return 'sha384'
  if (keyType === 'ec-p521') return 'sha512'
  if (keyType === 'ed25519') return 'default'
  return 'sha256'
}

/** openssl `ca` wants YYYYMMDDHHMMSSZ (it picks UTCTime or GeneralizedTime itself). */
function opensslDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d{3}Z$/, 'Z')
}

function makeCertificate(issuer: CaFixture | undefined, opts: CertOptions & { name: string }): CertFixture {
  const dir = opts.dir ?? makePkiDir()
  const name = opts.name
  const key = opts.key ?? generateKey(opts.keyType ?? 'ec-p256', { dir, name })
  const subject = opts.subject ?? `/CN=credbake test ${name}/O=credbake tests`
  // Whole seconds: X.509 times have no fractions, and tests compare these dates to parsed ones.
  const notBefore = new Date(Math.floor((opts.notBefore?.getTime() ?? Date.now() - DAY_MS) / 1000) * 1000)
  const notAfter = new Date(Math.floor((opts.notAfter?.getTime() ?? notBefore.getTime() + (opts.days ?? 365) * DAY_MS) / 1000) * 1000)
  const withSki = opts.subjectKeyIdentifier ?? true

  const extensionLines = ['[ fixture_ext ]']
  if (opts.basicConstraints !== null && opts.basicConstraints !== undefined) extensionLines.push(`basicConstraints = ${opts.basicConstraints}`)
  if (opts.keyUsage !== null && opts.keyUsage !== undefined) extensionLines.push(`keyUsage = ${opts.keyUsage}`)
  if (opts.extendedKeyUsage !== null && opts.extendedKeyUsage !== undefined) extensionLines.push(`extendedKeyUsage = ${opts.extendedKeyUsage}`)
  // OpenSSL 3 adds SKI and AKI by default: "none" is the only way to leave them out.
  extensionLines.push(`subjectKeyIdentifier = ${withSki ? 'hash' : 'none'}`)
  // x509_strict wants an AKI key id on every non-self-signed certificate.
  if (issuer ? issuer.hasSubjectKeyIdentifier : withSki) extensionLines.push('authorityKeyIdentifier = keyid:always')
  else if (issuer) extensionLines.push('authorityKeyIdentifier = issuer:always')
  else extensionLines.push('authorityKeyIdentifier = none')

  // openssl ca needs its own small database; one per certificate keeps fixtures independent.
  const database = path.join(dir, `.ca-db-${name}`)
  mkdirSync(database, { recursive: true })
  writeFileSync(path.join(database, 'index.txt'), '')
  writeFileSync(path.join(database, 'serial'), '01\n')
  const configPath = path.join(database, 'openssl.cnf')
  writeFileSync(
    configPath,
    [
      '[ ca ]',
      'default_ca = fixture_ca',
      '[ fixture_ca ]',
      `database = ${database}/index.txt`,
      `new_certs_dir = ${database}`,
      `serial = ${database}/serial`,
      'policy = fixture_policy',
      'unique_subject = no',
      'email_in_dn = yes',
      '[ fixture_policy ]',
      'commonName = optional',
      ...extensionLines,
      ''
    ].join('\n')
  )

  const csrPath = path.join(database, 'request.csr')
  openssl(['req', '-new', '-utf8', '-key', key.path, '-subj', subject, '-out', csrPath])

  const certPath = path.join(dir, `${name}.crt.pem`)
  const signer = issuer ? ['-cert', issuer.certPath, '-keyfile', issuer.keyPath] : ['-selfsign', '-keyfile', key.path]
  openssl([
    'ca',
    '-batch',
    '-config',
    configPath,
    ...signer,
    '-in',
    csrPath,
    '-out',
    certPath,
    '-notext',
    '-rand_serial',
    '-preserveDN',
    '-utf8',
    '-startdate',
    opensslDate(notBefore),
    '-enddate',
    opensslDate(notAfter),
    '-extensions',
    'fixture_ext',
    '-md',
    digestFor(issuer ? issuer.keyType : key.keyType)
  ])

  const certPem = readFileSync(certPath, 'utf8')
  const chainPem = certPem + (issuer ? issuer.chainPem : '')
  const chainPath = path.join(dir, `${name}.chain.pem`)
  writeFileSync(chainPath, chainPem)
  return {
    name,
    dir,
    keyType: key.keyType,
    key,
    keyPath: key.path,
    keyPem: key.pem,
    certPath,
    certPem,
    certDer: pemBodyToDer(certPem),
    subject,
    notBefore,
    notAfter,
    issuer,
    chainPem,
    chainPath,
    hasSubjectKeyIdentifier: withSki
  }
}

/** Deliberately independent of src/util/pem.ts, so fixtures do not depend on code under test. */
function pemBodyToDer(pem: string): Buffer {
  const match = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem)
  if (!match?.[1]) throw new Error('fixture certificate PEM has no CERTIFICATE block')
  return Buffer.from(match[1].replace(/\s+/g, ''), 'base64')
}
