// One manifest entry against its output: the entry must be the schema's, name the output path
// credbake gives its serial, and every claim in it must be what the output holds (files, modes,
// owners, folders, nothing extra, the certificate and its key). Runs on worker threads (pool.ts)
// or, for small manifests, on the main thread. Problems are collected, never thrown.
import type { X509Certificate } from 'node:crypto'
import { lstatSync } from 'node:fs'
import path from 'node:path'
import { LAYOUT_FILES } from '../bundle/layouts.js'
import { isCredbakeError, messageOf } from '../errors.js'
import { bmapPathFor } from '../image/bmap.js'
import { sysrootPath } from '../placement/ostree.js'
import { findFormat, outputChecksums } from '../formats/registry.js'
import type { OutputFormat } from '../formats/types.js'
import { sha256File } from '../util/fsx.js'
import { sha256Hex } from '../util/hash.js'
import { CertificateChecker } from './certificates.js'
import { MAX_FILE_BYTES, MAX_KEY_BYTES, OutputUnreadable, type FoundFile, type OutputRequest, type OutputView } from '../formats/read.js'
import { linkedFolderProblem, readOutput } from './outputs.js'
import { validateArrayElement } from './schema.js'
import type { ManifestDevice, ManifestHeader, PreexistingFile } from '../shapes/review.js'
import { locate, type EntryResult } from './types.js'

export interface CheckContext {
  outputDir: string
  header: ManifestHeader
  /** 0700 folder for decompressed images and dumped files (they hold device keys). */
  tempDir: string
  trust: readonly X509Certificate[]
}

/** Most schema problems of one entry shown. */
const SHOWN_PROBLEMS = 3

/** The output path credbake gives `serial` under this header; undefined when the header does not say enough. */
export function expectedOutputPath(header: ManifestHeader, serial: string): string | undefined {
  return findFormat(header.output.format)?.outputPath(serial, { compress: header.output.compress, ...(header.output.image ? { image: header.output.image.path } : {}) })
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`
}

/** How messages name a device file: its path under the credentials folder, else the full path. */
function shortName(devicePath: string, credentialsDir: string): string {
  const dir = `${credentialsDir.replace(/\/+$/, '')}/`
  return devicePath.startsWith(dir) ? devicePath.slice(dir.length) : devicePath
}

const leaving = new Map<string, boolean>()

/** Whether a path inside an output could lead out of it ("..", NUL, not absolute); cached, as every bundle has the same few. */
function leavesOutput(file: string): boolean {
  let leaves = leaving.get(file)
  if (leaves === undefined) {
    leaves = file.split('/').some((part) => part === '..') || file.includes('\0') || !file.startsWith('/')
    if (leaving.size > 1024) leaving.clear()
    leaving.set(file, leaves)
  }
  return leaves
}

export class DeviceChecker {
  private readonly certificates: CertificateChecker
  /** What the checks need of the header's format (an unknown one: a file output; readOutput reports it). */
  private readonly format: Pick<OutputFormat, 'tree' | 'takesImage' | 'noun'> & { folder?: string }
  private readonly credentialsDir: string
  private readonly roles: RoleCandidates

  constructor(private readonly context: CheckContext) {
    this.roles = roleCandidates(context.header)
    this.certificates = new CertificateChecker(context.header, context.trust)
    this.format = findFormat(context.header.output.format) ?? { tree: false, takesImage: false, noun: 'output' }
    this.credentialsDir = context.header.layout.credentialsDir
  }

  /** Entry `index` of the manifest's devices, given as its JSON text. */
  async check(index: number, text: string): Promise<EntryResult> {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (error) {
      return { index, malformed: `device entry ${index} is not JSON (${messageOf(error)})`, problems: [] }
    }
    const schema = validateArrayElement('devices', index, value)
    if (schema.length > 0) {
      const serial = (value as { serial?: unknown } | null)?.serial
      const shown = schema
        .slice(0, SHOWN_PROBLEMS)
        .map((p) => `${p.path} ${p.message}`)
        .join('; ')
      return {
        index,
        malformed: `device entry ${index}${typeof serial === 'string' ? ` (serial ${serial})` : ''} does not match schema/manifest.schema.json: ${shown}${schema.length > SHOWN_PROBLEMS ? ` (and ${schema.length - SHOWN_PROBLEMS} more)` : ''}`,
        problems: []
      }
    }
    const device = value as ManifestDevice
    let problems: string[]
    try {
      problems = await this.problemsOf(device)
    } catch (error) {
      // A bug or an unexpected failure in one device must not hide the others.
      problems = [`verify could not check this device: ${messageOf(error)}`]
    }
    return {
      index,
      serial: device.serial,
      deviceId: device.deviceId,
      subject: device.certificate.subject,
      certificateSha256: device.certificate.sha256,
      serialNumber: device.certificate.serialNumber,
      sums: outputChecksums(this.format, device),
      problems
    }
  }

  private async problemsOf(device: ManifestDevice): Promise<string[]> {
    const problems: string[] = []
    const expected = expectedOutputPath(this.context.header, device.serial)
    if (expected !== undefined && device.output.path !== expected) {
      // The claim is about another output (or none credbake writes): it is not read.
      return [`output path ${JSON.stringify(device.output.path)} is not the one credbake gives serial ${device.serial} (${expected})`]
    }
    // Without the base image's name (an image output), its folder and serial are what is known.
    if (expected === undefined && (this.format.folder === undefined || !device.output.path.startsWith(`${this.format.folder}/${device.serial}.`))) {
      return [`output path ${JSON.stringify(device.output.path)} is not one credbake gives serial ${device.serial}`]
    }
    // A linked images/ (or overlays/, …) would lead the bmap's read, and the output's, elsewhere.
    const linked = linkedFolderProblem(this.context.outputDir, device.output.path)
    if (linked !== undefined) return [linked]
    if (device.output.bmap) problems.push(...(await this.bmapProblems(device.output.path, device.output.bmap)))
    const escapes = device.files.map(locate).find(leavesOutput)
    if (escapes !== undefined) return [...problems, `file path ${JSON.stringify(escapes)} leaves the device's output; verify reads only inside it`]
    const preexisting = this.preexisting()
    // Where a file is read from is itself a claim: a partitionPath must be the sysroot path the
    // header's OSTree stateroot gives it (else a decoy could be checked in the real file's stead).
    const misplaced = [...device.files, ...preexisting].map((file) => this.placementProblem(file)).filter((p): p is string => p !== undefined)
    if (misplaced.length > 0) return [...problems, ...misplaced]

    const request = this.requestFor(device, preexisting)
    let view: OutputView
    try {
      view = await readOutput(this.context, device, request)
    } catch (error) {
      if (error instanceof OutputUnreadable) return [...problems, error.message]
      if (isCredbakeError(error)) return [...problems, `output ${device.output.path} cannot be read: ${error.message.split('\n')[0]}`]
      throw error
    }
    if (view.sha256 !== null && view.sha256 !== device.output.sha256)
      problems.push(`output ${device.output.path} has SHA-256 ${view.sha256}, the manifest records ${device.output.sha256}`)
    problems.push(...view.problems)
    if (view.opened === false) return problems
    const found = this.fileProblems(device, view, problems)
    this.folderProblems(view, problems)
    this.extraProblems(device, view, preexisting, problems)
    for (const file of preexisting) this.preexistingProblems(file, view.files.get(locate(file)), problems)
    this.credentialProblems(device, found, problems)
    return problems
  }

  /** Why a file's place inside the output is not the one credbake gives it; undefined when it is. */
  private placementProblem(file: { path: string; partitionPath?: string }): string | undefined {
    const ostree = this.context.header.output.ostree
    let expected: string | undefined
    if (ostree?.sysrootPaths) {
      try {
        expected = sysrootPath(file.path, ostree.os)
      } catch {
        return `${file.path} is outside /var, where no file can be on an OSTree system (stateroot ${ostree.os})`
      }
    }
    if ((file.partitionPath ?? file.path) === (expected ?? file.path)) return undefined
    if (expected === undefined)
      return `${file.path} is recorded at ${JSON.stringify(file.partitionPath)} inside the output, but the review names no OSTree sysroot that would put it there`
    return `${file.path} is recorded at ${JSON.stringify(file.partitionPath ?? file.path)} inside the output, but stateroot ${ostree!.os} puts it at ${expected}`
  }

  private preexisting(): PreexistingFile[] {
    const image = this.context.header.output.image
    return this.format.takesImage ? (image?.preexisting ?? []) : []
  }

  /** Every listed file (up to the size the manifest gives it), and for images the folders holding the credentials. */
  private requestFor(device: ManifestDevice, preexisting: readonly PreexistingFile[]): OutputRequest {
    const files = new Map<string, number>()
    // A file of another size than recorded is still read (up to a small bound), to say what it is.
    // Never more than MAX_FILE_BYTES, whatever the manifest says: a credential file is small.
    const bound = (size: number): number => Math.min(Math.max(size, MAX_KEY_BYTES), MAX_FILE_BYTES)
    for (const file of device.files) files.set(locate(file), file.privateKey ? MAX_KEY_BYTES : bound(file.size ?? 0))
    for (const file of preexisting) files.set(locate(file), bound(file.size))
    const dir = this.credentialsDir.replace(/\/+$/, '') || '/'
    const listings = [...new Set(device.files.filter((f) => path.posix.dirname(f.path) === dir).map((f) => path.posix.dirname(locate(f))))]
    return { files, listings: listings.length > 0 ? listings : [dir] }
  }

  /** The listed files against what is there; returns the files found, by device path. */
  private fileProblems(device: ManifestDevice, view: OutputView, problems: string[]): Map<string, FoundFile> {
    const found = new Map<string, FoundFile>()
    for (const file of device.files) {
      const name = shortName(file.path, this.credentialsDir)
      const actual = view.files.get(locate(file))
      if (!actual) {
        problems.push(`${name} is missing`)
        continue
      }
      if (!actual.content) {
        problems.push(
          file.privateKey ? `${name} is ${actual.size} bytes, more than a private key credbake writes` : `${name} is ${actual.size} bytes, the manifest records ${file.size}`
        )
      } else {
        found.set(file.path, actual)
        if (!file.privateKey) {
          if (file.size !== undefined && actual.content.length !== file.size) problems.push(`${name} is ${actual.content.length} bytes, the manifest records ${file.size}`)
          else if (file.sha256 !== undefined && sha256Hex(actual.content) !== file.sha256)
            problems.push(`${name} has SHA-256 ${sha256Hex(actual.content)}, the manifest records ${file.sha256}`)
        }
      }
      if (file.mode !== null && actual.mode !== null && octal(actual.mode) !== file.mode) problems.push(`${name} has mode ${octal(actual.mode)}, the manifest records ${file.mode}`)
      if (file.owner !== null && actual.uid !== null && `${actual.uid}:${actual.gid}` !== file.owner)
        problems.push(`${name} is owned by ${actual.uid}:${actual.gid}, the manifest records ${file.owner}`)
    }
    return found
  }

  /** tar and dir: every folder above a file is there, 0755 and owned by root, as credbake writes them. */
  private folderProblems(view: OutputView, problems: string[]): void {
    if (!view.folders) return
    for (const [folder, found] of [...view.folders].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const name = folder === '/' ? `the top folder of the ${this.format.noun} (the device's /)` : `folder ${folder}`
      if (!found) {
        problems.push(`${name} is not in the ${this.format.noun} (extraction would make it with whatever mode the umask gives)`)
        continue
      }
      if (found.mode !== 0o755) problems.push(`${name} has mode ${octal(found.mode)}, credbake writes 0755`)
      if (found.uid !== null && (found.uid !== 0 || found.gid !== 0)) problems.push(`${name} is owned by ${found.uid}:${found.gid}, credbake writes 0:0`)
    }
  }

  /** Anything nobody reviewed: tar and dir, any entry not listed; images, any name in the credentials folder not listed nor there before. */
  private extraProblems(device: ManifestDevice, view: OutputView, preexisting: readonly PreexistingFile[], problems: string[]): void {
    const describe = (entry: string): string => {
      const folder = entry.endsWith('/')
      const clean = folder ? entry.slice(0, -1) : entry
      return `${path.posix.basename(clean)}${folder ? '/' : ''} in ${path.posix.dirname(clean)} is not in the manifest (an extra ${folder ? 'folder' : 'file'})`
    }
    for (const extra of view.extras ?? []) problems.push(describe(extra))
    if (view.listings.size === 0) return
    // FAT (no modes recorded) compares names case-insensitively.
    const fold = device.files.every((f) => f.mode === null) ? (n: string): string => n.toUpperCase() : (n: string): string => n
    const known = new Set([...device.files, ...preexisting].map((f) => fold(locate(f))))
    for (const [folder, names] of view.listings) {
      for (const name of names ?? []) {
        if (!known.has(fold(path.posix.join(folder, name)))) problems.push(`${name} in ${folder} is not in the manifest (an extra file)`)
      }
    }
  }

  /** A file the base image already had: still there as recorded. */
  private preexistingProblems(file: PreexistingFile, actual: FoundFile | null | undefined, problems: string[]): void {
    const name = `${shortName(file.path, this.credentialsDir)} (pre-existing in the base image)`
    if (!actual) return void problems.push(`${name} is missing`)
    if (!actual.content || actual.size !== file.size) return void problems.push(`${name} is ${actual.size} bytes, the manifest records ${file.size}`)
    if (sha256Hex(actual.content) !== file.sha256) problems.push(`${name} has SHA-256 ${sha256Hex(actual.content)}, the manifest records ${file.sha256}`)
    if (file.mode !== null && actual.mode !== null && octal(actual.mode) !== file.mode) problems.push(`${name} has mode ${octal(actual.mode)}, the manifest records ${file.mode}`)
    if (file.owner !== null && actual.uid !== null && `${actual.uid}:${actual.gid}` !== file.owner)
      problems.push(`${name} is owned by ${actual.uid}:${actual.gid}, the manifest records ${file.owner}`)
  }

  /** The certificate file (chains, matches its entry and the header) and the key beside it. */
  private credentialProblems(device: ManifestDevice, found: Map<string, FoundFile>, problems: string[]): void {
    const roles = bundleRoles(this.roles, device)
    if (!roles.certificate) {
      problems.push(`the manifest lists no certificate file of layout ${this.context.header.layout.name} for this device`)
      return
    }
    const certificateFile = found.get(roles.certificate)
    if (!certificateFile?.content) return // reported as missing above
    const name = shortName(roles.certificate, this.credentialsDir)
    // The flat layout's chain.pem (certificate and the CAs above it) may supply intermediates.
    const chainFile = roles.chain ? found.get(roles.chain) : undefined
    const checked = this.certificates.check(name, certificateFile.content.toString('latin1'), device, chainFile?.content?.toString('latin1'))
    problems.push(...checked.problems)
    if (device.certificate.keySource === 'generated' && !roles.key) problems.push(`the manifest lists no private key for a certificate whose key credbake generated`)
    const keyFile = roles.key ? found.get(roles.key) : undefined
    if (roles.key && keyFile?.content && checked.certificate) {
      const mismatch = this.certificates.keyMatches(shortName(roles.key, this.credentialsDir), keyFile.content, checked.certificate)
      if (mismatch) problems.push(mismatch)
    }
  }

  /** The bmap beside an image output: where credbake puts it, with the SHA-256 the manifest records (flashing trusts its block checksums). */
  private async bmapProblems(outputPath: string, bmap: { path: string; sha256: string }): Promise<string[]> {
    const expected = bmapPathFor(outputPath)
    if (bmap.path !== expected) return [`bmap path ${JSON.stringify(bmap.path)} is not the one credbake writes beside ${outputPath} (${expected})`]
    let actual: string
    try {
      const file = path.join(this.context.outputDir, ...bmap.path.split('/'))
      // Hashed only as a regular file reached without a link (a FIFO would be waited on forever).
      const info = lstatSync(file)
      if (!info.isFile()) return [`bmap ${bmap.path} is ${info.isSymbolicLink() ? 'a symbolic link; verify does not follow links' : 'not a regular file'}`]
      actual = await sha256File(file)
    } catch (error) {
      return [`bmap ${bmap.path} is ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `unreadable (${messageOf(error)})`}`]
    }
    return actual === bmap.sha256 ? [] : [`bmap ${bmap.path} has SHA-256 ${actual}, the manifest records ${bmap.sha256}`]
  }
}

/** Where the layout's certificate file (and the chain file, when it is another) may be, in order of preference. */
export interface RoleCandidates {
  certificate: string[]
  chain: string[]
}

function roleCandidates(header: ManifestHeader): RoleCandidates {
  const rows = LAYOUT_FILES[header.layout.name as keyof typeof LAYOUT_FILES] ?? []
  const inDir = (name: string): string => path.posix.join(header.layout.credentialsDir, name)
  return {
    certificate: [...rows.filter((r) => r.source === 'certificate'), ...rows.filter((r) => r.source === 'certificate-chain')].map((r) => inDir(r.name)),
    chain: rows.filter((r) => r.source === 'certificate-chain').map((r) => inDir(r.name))
  }
}

/** The layout's certificate file and key file paths in a device's bundle. */
function bundleRoles(candidates: RoleCandidates, device: ManifestDevice): { certificate: string | undefined; chain: string | undefined; key: string | undefined } {
  const listed = (p: string): boolean => device.files.some((f) => f.path === p)
  const certificate = candidates.certificate.find(listed)
  const chain = candidates.chain.find((p) => p !== certificate && listed(p))
  return { certificate, chain, key: device.files.find((f) => f.privateKey)?.path }
}
