// What must hold in an output-dir after a run that reported success, however many runs before it
// were killed or failed. Read with independent tools (GNU tar, debugfs, openssl, node:crypto),
// never credbake's own readers. Returns a list of problems (empty = all good), so one assertion
// shows everything that is wrong at once.
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import { existsSync, lstatSync, readFileSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { readValidManifest } from '../helpers/manifest-schema.js'
import { splitPems } from '../helpers/outputs.js'
import { debugfsCat, debugfsStat } from '../helpers/images.js'
import { opensslVerify } from '../helpers/pki.js'
import { credbakeTempDirs, readJournalFile, tempLeftovers } from '../helpers/faults.js'

export const SUPERSEDED_REASONS = ['never-written', 'output-redone', 'overwritten', 'not-in-manifest', 'reissued-changed']

export interface CheckOptions {
  outputDir: string
  /** The trusted root the device certificates must chain to. */
  rootPem: string
  /** Certificates between the fleet CA and the root (intermediate fleet CAs). */
  untrustedPems?: string[]
  /** Serials of the manifest (shard) of the last run, each must be active exactly once. */
  serials: string[]
  /** Temp roots (TMPDIR / RUNNER_TEMP) that must hold no credbake-* folder. */
  tempRoots?: string[]
}

export interface DeviceFiles {
  cert: Buffer
  key: Buffer
  /** Mode of the key file as the medium records it. */
  keyMode: number
}

export interface CheckResult {
  problems: string[]
  manifest: any
  /** sha256 of every certificate issued according to the journal, in journal order. */
  issued: string[]
  active: Map<string, string>
  superseded: Map<string, string>
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')
const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase()

export interface TarMember {
  name: string
  mode: number
  uid: number
  gid: number
  type: 'file' | 'directory' | 'other'
  content: Buffer
}

/**
 * The members of a .tar.gz, read in-process (zlib + the ustar header layout of POSIX.1-1988):
 * hundreds of overlays are checked per test, and two `tar` processes per file would dominate.
 * test/helpers/outputs.ts's extractTar (GNU tar) stays the reference where few files are read.
 */
export function readTarGz(file: string): TarMember[] {
  const data = gunzipSync(readFileSync(file))
  const members: TarMember[] = []
  const text = (start: number, length: number): string =>
    data
      .subarray(start, start + length)
      .toString('utf8')
      .replace(/\0.*$/s, '')
  const octal = (start: number, length: number): number => parseInt(text(start, length).trim() || '0', 8)
  for (let offset = 0; offset + 512 <= data.length; ) {
    const header = data.subarray(offset, offset + 512)
    if (header.every((byte) => byte === 0)) break
    const size = octal(offset + 124, 12)
    const flag = String.fromCharCode(header[156] ?? 0)
    const prefix = text(offset + 345, 155)
    const name = `${prefix ? `${prefix}/` : ''}${text(offset, 100)}`
    const type = flag === '5' ? 'directory' : flag === '0' || flag === '\0' ? 'file' : 'other'
    members.push({
      name,
      mode: octal(offset + 100, 8),
      uid: octal(offset + 108, 8),
      gid: octal(offset + 116, 8),
      type,
      content: Buffer.from(data.subarray(offset + 512, offset + 512 + size))
    })
    offset += 512 + Math.ceil(size / 512) * 512
  }
  return members
}

/** Certificate and key files of one device's output, read without credbake. */
export function readDeviceFiles(outputDir: string, manifest: any, device: any): DeviceFiles {
  const file = path.join(outputDir, device.output.path)
  const dir = manifest.layout.credentialsDir.replace(/\/$/, '')
  const [certName, keyName] = manifest.layout.name === 'flat' ? ['cert.pem', 'key.pem'] : ['client.pem', 'pkey.pem']
  switch (manifest.output.format) {
    case 'tar': {
      const entries = readTarGz(file)
      const find = (name: string) => entries.find((entry) => `/${entry.name}` === `${dir}/${name}`)
      const cert = find(certName)
      const key = find(keyName)
      if (!cert || !key) throw new Error(`${device.output.path} lacks ${certName} or ${keyName}: ${entries.map((e) => e.name).join(', ')}`)
      return { cert: cert.content, key: key.content, keyMode: key.mode }
    }
    case 'dir': {
      const root = path.join(file, ...dir.split('/').filter(Boolean))
      return {
        cert: readFileSync(path.join(root, certName)),
        key: readFileSync(path.join(root, keyName)),
        keyMode: statSync(path.join(root, keyName)).mode & 0o7777
      }
    }
    case 'image':
    case 'partition': {
      const offset = manifest.output.format === 'partition' ? 0 : (device.output.partition?.offset ?? 0)
      const stat = debugfsStat(file, offset, `${dir}/${keyName}`)
      if (!stat) throw new Error(`${device.output.path}: no ${dir}/${keyName} in the file system at ${offset}`)
      return {
        cert: debugfsCat(file, offset, `${dir}/${certName}`),
        key: debugfsCat(file, offset, `${dir}/${keyName}`),
        keyMode: parseInt(stat.mode, 8) & 0o7777
      }
    }
    default:
      throw new Error(`unknown format ${manifest.output.format}`)
  }
}

/** The "dir" output digest, recomputed from the README/sink description (mode, 0:0, sha256, path). */
function treeDigest(root: string): string {
  const lines: string[] = []
  for (const name of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
    const file = path.join(root, name)
    const info = statSync(file)
    if (!info.isFile()) continue
    lines.push(`${(info.mode & 0o7777).toString(8).padStart(4, '0')} 0:0 ${sha256(readFileSync(file))} /${name.split(path.sep).join('/')}\n`)
  }
  lines.sort((a, b) => {
    const pa = a.slice(a.lastIndexOf(' ') + 1)
    const pb = b.slice(b.lastIndexOf(' ') + 1)
    return pa < pb ? -1 : pa > pb ? 1 : 0
  })
  return sha256(Buffer.from(lines.join('')))
}

/** SHA-256 of a file output, or the tree digest of a "dir" output. */
export function digestOf(file: string): string {
  return statSync(file).isDirectory() ? treeDigest(file) : sha256(readFileSync(file))
}

export function outputSha256(outputDir: string, _manifest: any, device: any): string {
  return digestOf(path.join(outputDir, device.output.path))
}

export function checkOutputDir(opts: CheckOptions): CheckResult {
  const problems: string[] = []
  const { outputDir } = opts
  const manifestFile = path.join(outputDir, 'credbake-manifest.json')
  const active = new Map<string, string>()
  const superseded = new Map<string, string>()
  const result = (manifest: any, issued: string[]): CheckResult => ({ problems, manifest, issued, active, superseded })

  // What remains of the machinery: nothing.
  for (const name of tempLeftovers(outputDir)) problems.push(`temporary file left in output-dir: ${name}`)
  if (existsSync(path.join(outputDir, 'credbake.lock'))) problems.push('credbake.lock left in output-dir')
  for (const root of opts.tempRoots ?? []) {
    for (const name of credbakeTempDirs(root)) {
      const inside = readdirSync(path.join(root, name), { recursive: true, encoding: 'utf8' })
      problems.push(`temp folder ${path.join(root, name)} left behind (${inside.length} entries inside${inside.length ? `: ${inside.slice(0, 4).join(', ')}` : ''})`)
    }
  }

  if (!existsSync(manifestFile)) {
    problems.push('no credbake-manifest.json')
    return result(undefined, [])
  }
  let manifest: any
  try {
    manifest = readValidManifest(manifestFile)
  } catch (error) {
    problems.push(String(error))
    return result(undefined, [])
  }

  // The journal: every certificate ever issued.
  const journal = readJournalFile(outputDir)
  const issued = journal.records.filter((r) => r.type === 'issued').map((r) => (r as { certificate: { sha256: string } }).certificate.sha256)
  for (const line of journal.badChecksums) problems.push(`journal line ${line} fails its checksum`)
  const issuedSet = new Set(issued)
  if (issuedSet.size !== issued.length) problems.push('the journal holds the same certificate twice')
  const written = new Map<string, { output: { path: string; sha256: string } }>()
  for (const record of journal.records) if (record.type === 'written') written.set(record.certificateSha256, record)

  // Every serial exactly once, each with one active certificate.
  const serials = manifest.devices.map((d: any) => d.serial)
  const duplicates = serials.filter((s: string, i: number) => serials.indexOf(s) !== i)
  if (duplicates.length) problems.push(`serials listed more than once: ${[...new Set(duplicates)].join(', ')}`)
  const expected = [...opts.serials].sort()
  const got = [...new Set<string>(serials)].sort()
  if (JSON.stringify(expected) !== JSON.stringify(got)) {
    problems.push(
      `devices in the manifest differ from the device manifest: missing ${expected.filter((s) => !got.includes(s)).join(',') || '-'}, extra ${got.filter((s) => !expected.includes(s)).join(',') || '-'}`
    )
  }
  if (manifest.counts.devices !== manifest.devices.length) problems.push(`counts.devices ${manifest.counts.devices} but ${manifest.devices.length} devices`)
  for (const device of manifest.devices) active.set(device.certificate.sha256, device.serial)

  for (const entry of manifest.superseded) {
    if (!SUPERSEDED_REASONS.includes(entry.reason)) problems.push(`superseded ${entry.sha256} has reason ${entry.reason}`)
    if (superseded.has(entry.sha256)) problems.push(`superseded ${entry.sha256} listed twice`)
    superseded.set(entry.sha256, entry.reason)
    if (active.has(entry.sha256)) problems.push(`certificate ${entry.sha256} of ${entry.serial} is both active and superseded`)
  }
  if (manifest.counts.superseded !== manifest.superseded.length) problems.push(`counts.superseded ${manifest.counts.superseded} but ${manifest.superseded.length} listed`)

  // Journal ⇔ manifest: nothing issued is unaccounted for, nothing accounted for was not issued.
  for (const sha of issued) if (!active.has(sha) && !superseded.has(sha)) problems.push(`certificate ${sha} is in the journal but neither active nor superseded in the manifest`)
  for (const sha of [...active.keys(), ...superseded.keys()]) if (!issuedSet.has(sha)) problems.push(`certificate ${sha} is in the manifest but was never issued per the journal`)

  // certificates.pem = the active ones; superseded.pem = the superseded ones (each once).
  const pemSet = (name: string): string[] => {
    const file = path.join(outputDir, name)
    return existsSync(file) ? splitPems(readFileSync(file, 'utf8')).map(fingerprint) : []
  }
  const compare = (name: string, have: string[], want: Iterable<string>): void => {
    const wanted = [...want].sort()
    const sorted = [...have].sort()
    if (JSON.stringify(sorted) !== JSON.stringify(wanted)) {
      problems.push(
        `${name} holds ${have.length} certificates (${new Set(have).size} distinct), expected exactly the ${wanted.length} ${name === 'certificates.pem' ? 'active' : 'superseded'} ones`
      )
    }
  }
  compare('certificates.pem', pemSet('certificates.pem'), active.keys())
  compare('superseded.pem', pemSet('superseded.pem'), superseded.keys())
  if (!existsSync(path.join(outputDir, 'superseded.pem'))) problems.push('no superseded.pem')

  // Every active certificate: its output exists, matches the manifest and the journal, holds this
  // certificate and its key (0600), and chains to the root.
  const deviceCerts: string[] = []
  for (const device of manifest.devices) {
    const file = path.join(outputDir, device.output.path)
    if (!existsSync(file)) {
      problems.push(`${device.serial}: output ${device.output.path} is missing`)
      continue
    }
    const actual = outputSha256(outputDir, manifest, device)
    if (actual !== device.output.sha256) problems.push(`${device.serial}: output SHA-256 ${actual} differs from the manifest's ${device.output.sha256}`)
    const journaled = written.get(device.certificate.sha256)
    if (!journaled) problems.push(`${device.serial}: no 'written' journal record for its active certificate`)
    else if (journaled.output.sha256 !== device.output.sha256) problems.push(`${device.serial}: the journal's output SHA-256 differs from the manifest's`)
    let files: DeviceFiles
    try {
      files = readDeviceFiles(outputDir, manifest, device)
    } catch (error) {
      problems.push(`${device.serial}: ${(error as Error).message}`)
      continue
    }
    const certPem = splitPems(files.cert.toString('utf8'))[0] ?? ''
    let cert: X509Certificate
    try {
      cert = new X509Certificate(certPem)
    } catch {
      problems.push(`${device.serial}: the output's certificate does not parse`)
      continue
    }
    if (fingerprint(certPem) !== device.certificate.sha256)
      problems.push(`${device.serial}: the output holds certificate ${fingerprint(certPem)}, the manifest says ${device.certificate.sha256}`)
    if (cert.serialNumber.toLowerCase() !== device.certificate.serialNumber.toLowerCase()) problems.push(`${device.serial}: serial number differs from the manifest`)
    if ((files.keyMode & 0o777) !== 0o600) problems.push(`${device.serial}: key file mode ${files.keyMode.toString(8)}`)
    try {
      const fromKey = createPublicKey(createPrivateKey(files.key)).export({ type: 'spki', format: 'der' })
      const fromCert = cert.publicKey.export({ type: 'spki', format: 'der' })
      if (!fromKey.equals(fromCert)) problems.push(`${device.serial}: the key in the output does not match its certificate`)
    } catch (error) {
      problems.push(`${device.serial}: the key in the output does not parse (${(error as Error).message})`)
    }
    deviceCerts.push(certPem)
  }
  if (deviceCerts.length > 0) {
    const verified = opensslVerify(deviceCerts, { trustedPem: opts.rootPem, untrustedPems: opts.untrustedPems })
    if (!verified.ok) problems.push(`openssl verify rejected ${verified.rejected.length} device certificates: ${verified.output.slice(0, 400)}`)
  }
  return result(manifest, issued)
}

/**
 * Files under `dir` (recursively, never following links) whose bytes hold a PEM private key, as
 * paths relative to `dir`. For TMPDIR and RUNNER_TEMP after a stopped run: they must hold none.
 */
export function privateKeysUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => {
    const file = path.join(dir, name)
    try {
      return lstatSync(file).isFile() && /-----BEGIN (EC |RSA |ENCRYPTED )?PRIVATE KEY-----/.test(readFileSync(file, 'latin1'))
    } catch {
      return false
    }
  })
}
