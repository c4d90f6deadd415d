// `credbake verify`: a review manifest checked against the outputs as they are now. The manifest
// must match its schema first; then, per device, its output is opened (outputs.ts) and every
// recorded file, the credentials folder, the certificate and the key are compared with what the
// manifest says (certificates.ts). A device's problems are collected, never thrown: one broken
// output does not hide the state of the others.
import type { X509Certificate } from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import { LAYOUT_FILES } from '../bundle/layouts.js'
import { InputError, ManifestError, isCredbakeError, messageOf } from '../errors.js'
import type { ManifestDevice, ManifestHeader, ReviewManifest } from '../review/types.js'
import { sha256File } from '../util/fsx.js'
import { sha256Hex } from '../util/hash.js'
import { SecretTemp } from '../util/secret-temp.js'
import { checkCertificate, checkKeyMatches, loadTrust } from './certificates.js'
import { OutputUnreadable, readOutput, type FoundFile } from './outputs.js'
import { validateManifest } from './schema.js'
import { INPUT_LIMITS, readBoundedText } from '../util/bounded-read.js'

export interface DeviceReport {
  serial: string
  ok: boolean
  problems: string[]
}

export interface VerifyReport {
  devices: DeviceReport[]
  passed: number
  failed: number
}

export interface VerifyOptions {
  manifest: string
  fleetCaCert: string
  /** Default: the manifest's folder. */
  outputDir?: string
  /** Parent of the secret temp folder; default RUNNER_TEMP or the OS temp dir. */
  tempRoot?: string
}

/** Read and parse the manifest, and check it against the bundled schema. */
export async function loadReviewManifest(file: string): Promise<ReviewManifest> {
  let text: string
  try {
    text = await readBoundedText(file, { maxBytes: INPUT_LIMITS.reviewFile, what: 'a review manifest' })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new InputError(`manifest ${file} cannot be read: ${code === 'ENOENT' ? 'it does not exist' : code === 'EISDIR' ? 'it is a folder (give the credbake-manifest.json in it)' : messageOf(error)}`, { input: 'manifest', file })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new ManifestError(`manifest ${file} is not JSON (${messageOf(error)}); give the credbake-manifest.json a bake wrote`, { file })
  }
  const problems = validateManifest(value)
  if (problems.length > 0) {
    const shown = problems.slice(0, 3).map((p) => `${p.path || '(top level)'} ${p.message}`).join('; ')
    const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''
    throw new ManifestError(`manifest ${file} does not match schema/manifest.schema.json: ${shown}${more}`, { file })
  }
  return value as ReviewManifest
}

/** How messages name a device file: its path under the credentials folder, else the full path. */
function shortName(devicePath: string, credentialsDir: string): string {
  const dir = `${credentialsDir.replace(/\/+$/, '')}/`
  return devicePath.startsWith(dir) ? devicePath.slice(dir.length) : devicePath
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`
}

/** The layout's certificate file and key file paths in a device's bundle. */
function bundleRoles(header: ManifestHeader, device: ManifestDevice): { certificate?: string; chain?: string; key?: string } {
  const rows = LAYOUT_FILES[header.layout.name as keyof typeof LAYOUT_FILES] ?? []
  const inDir = (name: string): string => path.posix.join(header.layout.credentialsDir, name)
  const listed = new Set(device.files.map((f) => f.path))
  const certificate = [...rows.filter((r) => r.source === 'certificate'), ...rows.filter((r) => r.source === 'certificate-chain')].map((r) => inDir(r.name)).find((p) => listed.has(p))
  const chain = rows.filter((r) => r.source === 'certificate-chain').map((r) => inDir(r.name)).find((p) => listed.has(p) && p !== certificate)
  const key = device.files.find((f) => f.privateKey)?.path
  return { ...(certificate ? { certificate } : {}), ...(chain ? { chain } : {}), ...(key ? { key } : {}) }
}

async function verifyDevice(context: { outputDir: string; header: ManifestHeader; tempDir: string; trust: readonly X509Certificate[] }, device: ManifestDevice): Promise<string[]> {
  const { header } = context
  const credentialsDir = header.layout.credentialsDir
  const problems: string[] = []
  const preexisting = header.output.image?.preexisting ?? []
  const paths = [...device.files.map((f) => f.path), ...preexisting.map((f) => f.path)]
  let view
  try {
    view = await readOutput(context, device, paths)
  } catch (error) {
    if (error instanceof OutputUnreadable) return [error.message]
    if (isCredbakeError(error)) return [`output ${device.output.path} cannot be read: ${error.message.split('\n')[0]}`]
    throw error
  }
  if (view.sha256 !== device.output.sha256) problems.push(`output ${device.output.path} has SHA-256 ${view.sha256}, the manifest records ${device.output.sha256}`)
  if (device.output.bmap) problems.push(...(await checkBmap(context.outputDir, device.output.bmap)))

  const found = new Map<string, FoundFile>()
  for (const file of device.files) {
    const name = shortName(file.path, credentialsDir)
    const actual = view.files.get(file.path)
    if (!actual) {
      problems.push(`${name} is missing`)
      continue
    }
    found.set(file.path, actual)
    if (!file.privateKey) {
      if (file.size !== undefined && actual.content.length !== file.size) problems.push(`${name} is ${actual.content.length} bytes, the manifest records ${file.size}`)
      else if (file.sha256 !== undefined && sha256Hex(actual.content) !== file.sha256) problems.push(`${name} has SHA-256 ${sha256Hex(actual.content)}, the manifest records ${file.sha256}`)
    }
    if (file.mode !== null && actual.mode !== null && octal(actual.mode) !== file.mode) problems.push(`${name} has mode ${octal(actual.mode)}, the manifest records ${file.mode}`)
    if (file.owner !== null && actual.uid !== null && `${actual.uid}:${actual.gid}` !== file.owner) problems.push(`${name} is owned by ${actual.uid}:${actual.gid}, the manifest records ${file.owner}`)
  }
  // A credential file nobody reviewed: anything in the credentials folder the manifest does not list.
  // FAT (no modes recorded) compares names case-insensitively.
  const fold = device.files.every((f) => f.mode === null) ? (n: string): string => n.toUpperCase() : (n: string): string => n
  const dir = credentialsDir.replace(/\/+$/, '') || '/'
  const listed = new Set(device.files.filter((f) => path.posix.dirname(f.path) === dir).map((f) => fold(path.posix.basename(f.path))))
  // Files the base image already held there, recorded once in the header, are expected too.
  for (const file of preexisting) if (path.posix.dirname(file.path) === dir) listed.add(fold(path.posix.basename(file.path)))
  for (const name of view.listing ?? []) {
    if (!listed.has(fold(name))) problems.push(`${name} in ${credentialsDir} is not in the manifest (an extra file)`)
  }
  problems.push(...preexistingProblems(preexisting, view.files, credentialsDir))

  const roles = bundleRoles(header, device)
  const certificateFile = roles.certificate ? found.get(roles.certificate) : undefined
  if (roles.certificate && certificateFile) {
    const name = shortName(roles.certificate, credentialsDir)
    // The flat layout's chain.pem (certificate and the CAs above it) may supply intermediates.
    const chainFile = roles.chain ? found.get(roles.chain) : undefined
    const checked = checkCertificate(name, certificateFile.content.toString('utf8'), device, header, context.trust, chainFile?.content.toString('utf8'))
    problems.push(...checked.problems)
    const keyFile = roles.key ? found.get(roles.key) : undefined
    if (roles.key && keyFile && checked.certificate) {
      const mismatch = checkKeyMatches(shortName(roles.key, credentialsDir), keyFile.content, checked.certificate)
      if (mismatch) problems.push(mismatch)
    }
  } else if (!roles.certificate) {
    problems.push(`the manifest lists no certificate file of layout ${header.layout.name} for this device`)
  }
  return problems
}

/** Each pre-existing file of the base image is still there, as the header records it. */
function preexistingProblems(preexisting: NonNullable<NonNullable<ManifestHeader['output']['image']>['preexisting']>, files: Map<string, FoundFile | null>, credentialsDir: string): string[] {
  const problems: string[] = []
  for (const file of preexisting) {
    const name = `${shortName(file.path, credentialsDir)} (pre-existing in the base image)`
    const actual = files.get(file.path)
    if (!actual) {
      problems.push(`${name} is missing`)
      continue
    }
    if (actual.content.length !== file.size) problems.push(`${name} is ${actual.content.length} bytes, the manifest records ${file.size}`)
    else if (sha256Hex(actual.content) !== file.sha256) problems.push(`${name} has SHA-256 ${sha256Hex(actual.content)}, the manifest records ${file.sha256}`)
    if (file.mode !== null && actual.mode !== null && octal(actual.mode) !== file.mode) problems.push(`${name} has mode ${octal(actual.mode)}, the manifest records ${file.mode}`)
    if (file.owner !== null && actual.uid !== null && `${actual.uid}:${actual.gid}` !== file.owner) problems.push(`${name} is owned by ${actual.uid}:${actual.gid}, the manifest records ${file.owner}`)
  }
  return problems
}

/** The bmap beside an image output: there, with the SHA-256 the manifest records (flashing trusts its block checksums). */
async function checkBmap(outputDir: string, bmap: { path: string; sha256: string }): Promise<string[]> {
  if (bmap.path.split('/').includes('..')) return [`bmap path ${JSON.stringify(bmap.path)} leaves output-dir`]
  let actual: string
  try {
    actual = await sha256File(path.join(outputDir, ...bmap.path.split('/')))
  } catch (error) {
    return [`bmap ${bmap.path} is ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `unreadable (${messageOf(error)})`}`]
  }
  return actual === bmap.sha256 ? [] : [`bmap ${bmap.path} has SHA-256 ${actual}, the manifest records ${bmap.sha256}`]
}

/** Verify every device of `manifest`; the report lists each device's problems. */
export async function verifyOutputs(options: VerifyOptions): Promise<VerifyReport> {
  const manifest = await loadReviewManifest(options.manifest)
  const trust = await loadTrust(options.fleetCaCert)
  const outputDir = path.resolve(options.outputDir ?? path.dirname(path.resolve(options.manifest)))
  const secrets = await SecretTemp.create(options.tempRoot ?? process.env.RUNNER_TEMP ?? os.tmpdir())
  const devices: DeviceReport[] = []
  try {
    for (const device of manifest.devices) {
      const problems = await verifyDevice({ outputDir, header: manifest, tempDir: secrets.dir, trust }, device)
      devices.push({ serial: device.serial, ok: problems.length === 0, problems })
    }
  } finally {
    await secrets.remove()
  }
  const failed = devices.filter((d) => !d.ok).length
  return { devices, passed: devices.length - failed, failed }
}
