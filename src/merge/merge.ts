// `credbake merge --output-dir DIR MANIFEST...` and the action input `merge`: the shard manifests
// of one job matrix (`shard: i/n` each into its own output-dir) become one review artifact in DIR:
// credbake-manifest.json, certificates.pem, superseded.pem and SHA256SUMS covering every shard.
//
// Outputs: each shard's outputs are hard-linked into DIR at the same relative path they have in
// their shard's folder (`overlays/SERIAL.tar.gz`, `images/SERIAL.img` and its `.bmap`, every file
// of a `devices/SERIAL/` tree), so DIR looks exactly like the output-dir of one bake: every path
// in the merged manifest and in SHA256SUMS resolves from DIR, `credbake verify --output-dir DIR`
// and `sha256sum -c SHA256SUMS` work there, and uploading DIR gives one self-contained artifact.
// A hard link costs no space; across file systems (EXDEV) a file is copied instead (a reflink or
// a sparse copy, mode kept). Shard folders are left as they are.
//
// Everything is checked before anything is written: each file is a credbake review manifest
// (schemaVersion, tool, the JSON schema), all shards come from the same device manifest (its
// SHA-256, recorded by bake as source.manifest.sha256), fleet CA, certificate profile, layout and
// output format, split into the same number of shards; no shard is given twice, none is missing,
// no device serial is in two shards; each output exists with the recorded size; each shard's
// certificates.pem and superseded.pem match its manifest. Any refusal is an InputError naming
// `merge` and the files (exit 2). The review files appear (temp, fsync, rename) only when
// complete, the manifest last.
//
// DIR is a trust boundary as a bake's output-dir is (docs/output-dir-boundary.md): checked the same
// way (a real folder of this user, nobody else may write in it, no link at a name merge uses),
// locked the same way (credbake.lock: a second merge into DIR fails at once, exit 6), and the
// output paths a shard manifest names are FOLDER/SERIAL… in its shard's folder, reached without a
// link. A merge that is killed or stopped leaves a marker (MERGE_MARKER) until it completes, so a
// rerun recognises the half-done DIR, clears it and merges again to the same result.
import { chmod, link, lstat, mkdir, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { CancelledError, InputError, isCredbakeError, messageOf } from '../errors.js'
import { copyImage } from '../image/copy.js'
import { JOURNAL_FILE } from '../journal/journal.js'
import { LOCK_FILE, OutputLock } from '../journal/lock.js'
import { findFormat, OUTPUT_FOLDERS } from '../formats/registry.js'
import { prepareOutputDir } from '../pipeline/output-dir.js'
import { ReviewWriter } from '../review/manifest-writer.js'
import { deviceOfEntry, exportFiles, exportFolders, REVIEW_EXPORTS, ReviewExports } from '../exports/registry.js'
import { SHA256SUMS_FILE } from '../exports/sha256sums.js'
import type { ExportedFile, ReviewExport } from '../exports/types.js'
import {
  CERTIFICATES_FILE,
  MANIFEST_FILE,
  MANIFEST_SCHEMA_VERSION,
  SUPERSEDED_FILE,
  type ExportSummary,
  type ManifestDevice,
  type ManifestHeader,
  type ManifestCrl,
  type MergedShard,
  type RevokedCertificate,
  type ReviewManifest
} from '../shapes/review.js'
import { cancellation } from '../util/cancel.js'
import { checkWay, outputPathProblem } from '../util/confined.js'
import { sha256File, TEMP_MARKER } from '../util/fsx.js'
import { sha256Hex } from '../util/hash.js'
import { toPem } from '../util/pem.js'
import { validateManifest } from '../verify/schema.js'
import { VERSION } from '../version.js'
import { INPUT_LIMITS, readBoundedText } from '../util/bounded-read.js'

/** Review manifests are read whole here: within a cap (docs/input-limits.md). */
const REVIEW_MANIFEST_LIMIT = { maxBytes: INPUT_LIMITS.reviewFile, what: 'a review manifest' }

export interface MergeOptions {
  /** Where the merged review goes (created when missing). */
  outputDir: string
  /** Shard manifest files (credbake-manifest.json of each shard's output-dir). */
  manifests: readonly string[]
  /** Relative display names in messages and in the merged manifest are relative to this. */
  baseDir?: string
  /** The input/flag named in errors: "merge" (action) or the CLI's arguments. */
  input?: string
  info?: (message: string) => void
  /** Warnings (a stale lock taken over, output-dir's mode narrowed); default: info. */
  warn?: (message: string) => void
  /** The review exports known (default: the registry's; tests add their own). */
  exports?: readonly ReviewExport[]
}

/** Present in DIR while a merge is under way: a DIR holding it is a half-done merge a rerun clears. */
export const MERGE_MARKER = '.credbake-merge-incomplete'

export interface MergeResult {
  manifestPath: string
  certificatesPath: string
  supersededPath: string
  checksumsPath: string
  outputDir: string
  devices: number
  superseded: number
  fleetCaSha256: string
  header: ManifestHeader
  shards: MergedShard[]
  /** What the exports the shards name wrote, regenerated from the merged devices (registration files). */
  exported: ExportSummary[]
  /** Output files hard-linked, and copied (another file system). */
  linked: number
  copied: number
}

/** A shard manifest as read in the first pass (its devices are dropped after the checks). */
interface Shard {
  file: string
  display: string
  dir: string
  header: ManifestHeader
  devices: number
  superseded: number
  /** Installed files that are the same on every device of the shard (root.crt, gateway.url): path → SHA-256. */
  sharedFiles: Map<string, string>
  /** Certificates revoked in the shard's output-dir (carried into the merged manifest). */
  revoked: RevokedCertificate[]
  /** The shard's last CRL, if it had one. */
  crl?: ManifestCrl
}

/** Most refusals listed in one message; the rest are counted. */
const MAX_PROBLEMS = 20

/** File-system calls in flight at once while checking and placing outputs. */
const IN_FLIGHT = 32

export async function mergeShards(options: MergeOptions): Promise<MergeResult> {
  const input = options.input ?? 'merge'
  const baseDir = options.baseDir ?? process.cwd()
  const outputDir = path.resolve(baseDir, options.outputDir)
  const display = (file: string): string => {
    const relative = path.relative(baseDir, file)
    return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file
  }
  const refuse = (problems: string[]): never => {
    const shown = problems.slice(0, MAX_PROBLEMS)
    const more = problems.length > shown.length ? `\n  - and ${problems.length - shown.length} more` : ''
    throw new InputError(`Input "${input}": cannot merge these shard manifests:\n  - ${shown.join('\n  - ')}${more}`, { input })
  }
  if (options.manifests.length === 0) {
    throw new InputError(`Input "${input}": no shard manifests to merge (give each shard's ${MANIFEST_FILE}).`, { input })
  }

  // ---- DIR: checked as a bake's output-dir and locked first, so that of merges started together
  // one wins and the others fail at once (exit 6); made here when missing, removed again on refusal.
  const warn = options.warn ?? options.info ?? (() => {})
  const existed = await lstat(outputDir).then(
    () => true,
    () => false
  )
  await prepareOutputDir(outputDir, warn)
  let lock: OutputLock
  try {
    lock = await OutputLock.acquire(outputDir, { warn, doing: 'merging into' })
  } catch (error) {
    if (!existed) await rmdir(outputDir).catch(() => undefined)
    throw error
  }
  let refused = false
  try {
    const shards = await checkShards(options, { baseDir, outputDir, display, refuse })
    const found = await outputDirProblems(outputDir, display)
    if (found.length) refuse(found)
    return await mergeInto(outputDir, shards, input, options)
  } catch (error) {
    refused = error instanceof InputError
    if (!cancellation.signal) throw error
    throw new CancelledError(
      cancellation.signal,
      `merge stopped by ${cancellation.signal}: nothing was merged (what was placed in ${display(outputDir)} so far was removed again), the lock is released. Run the same command again to merge.`
    )
  } finally {
    await lock.release()
    // Refused before anything was written: a folder this merge made goes again (if still empty).
    if (refused && !existed) await rmdir(outputDir).catch(() => undefined)
  }
}

/** Pass 1: read and check every shard and its outputs; nothing is written. Refuses (exit 2) listing every problem. */
async function checkShards(
  options: MergeOptions,
  context: { baseDir: string; outputDir: string; display: (file: string) => string; refuse: (problems: string[]) => never }
): Promise<Shard[]> {
  const { baseDir, outputDir, display, refuse } = context
  const problems: string[] = []
  // Found per shard, said after the problems of the set as a whole: those are the cause (a shard
  // given twice puts every one of its serials in two shards).
  const later: string[] = []
  const shards: Shard[] = []
  const serials = new Map<string, string>()
  const overlaps = new Map<string, { count: number; examples: string[] }>()
  for (const given of options.manifests) {
    cancellation.throwIfRequested()
    const file = path.resolve(baseDir, given)
    const name = display(file)
    const parsed = await readShard(file, name)
    if (typeof parsed === 'string') {
      problems.push(parsed)
      continue
    }
    const dir = path.dirname(file)
    const format = parsed.output.format
    for (const device of parsed.devices) {
      const before = serials.get(device.serial)
      if (before === undefined) serials.set(device.serial, name)
      else {
        const pair = `${before} and ${name}`
        const overlap = overlaps.get(pair) ?? { count: 0, examples: [] }
        overlap.count++
        if (overlap.examples.length < 3) overlap.examples.push(device.serial)
        overlaps.set(pair, overlap)
      }
    }
    // The outputs beside the manifest: a few stat calls in flight at a time.
    const seen = new Set<string>()
    for (let start = 0; start < parsed.devices.length; start += IN_FLIGHT) {
      const batch = parsed.devices.slice(start, start + IN_FLIGHT)
      for (const found of await Promise.all(batch.map((device) => outputProblems(dir, name, device, format, seen)))) later.push(...found)
    }
    // Revocations and the CRL belong to the footer, not to the header the shards must share.
    const { devices, counts, exported, certificates, superseded, supersededCertificates, revoked, crl, ...header } = parsed
    shards.push({
      file,
      display: name,
      dir,
      header,
      devices: devices.length,
      superseded: superseded.length,
      sharedFiles: sharedFiles(devices),
      revoked: revoked ?? [],
      ...(crl ? { crl } : {})
    })
  }
  if (shards.length === 0) refuse([...problems, ...later])
  problems.push(...consistencyProblems(shards))
  problems.push(...shardFolderProblems(outputDir, shards, display))
  for (const [pair, { count, examples }] of overlaps) {
    const more = count > examples.length ? ` and ${count - examples.length} more` : ''
    problems.push(count === 1 ? `serial ${examples[0]} is in both ${pair}` : `${count} serials are in both ${pair}: ${examples.join(', ')}${more}`)
  }
  problems.push(...later)
  if (problems.length) refuse(problems)
  cancellation.throwIfRequested()
  return shards.sort((a, b) => a.header.shard.index - b.header.shard.index)
}

// ---- pass 2: link the outputs, stream the review files; the manifest last ----------------------
async function mergeInto(outputDir: string, shards: Shard[], input: string, options: MergeOptions): Promise<MergeResult> {
  const first = shards[0]!.header
  const merged: MergedShard[] = shards.map((shard) => ({
    shard: `${shard.header.shard.index}/${shard.header.shard.count}`,
    devices: shard.devices,
    superseded: shard.superseded,
    manifest: shard.display,
    createdAt: shard.header.createdAt,
    ...(shard.revoked.length ? { revoked: shard.revoked.length } : {}),
    ...(shard.crl ? { crlNumber: shard.crl.number } : {})
  }))
  const header: ManifestHeader = {
    ...first,
    tool: { name: 'credbake', version: VERSION },
    createdAt: new Date().toISOString(),
    shard: { index: 1, count: 1 },
    source: first.source,
    merged
  }
  // The marker first: from here on, a merge killed at any point leaves a DIR a rerun recognises.
  const marker = `${JSON.stringify({ pid: process.pid, startedAt: header.createdAt })}\n`
  await writeFile(path.join(outputDir, MERGE_MARKER), marker, { mode: 0o644, flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error // a marker left by a merge that did not complete
  })
  await removeEarlierMerge(outputDir, options.exports ?? REVIEW_EXPORTS)
  const review = await ReviewWriter.open(outputDir, header)
  // The same exports as the shards' (those always written and the ones their headers name), fed the merged entries.
  const exports = ReviewExports.open({ outputDir, header }, options.exports ?? REVIEW_EXPORTS)
  const placed: string[] = []
  const folders = new Set<string>()
  const counts = { linked: 0, copied: 0 }
  try {
    for (const shard of shards) {
      const manifest = JSON.parse(await readBoundedText(shard.file, REVIEW_MANIFEST_LIMIT)) as ReviewManifest
      const active = await certificatePems(
        shard,
        CERTIFICATES_FILE,
        manifest.devices.map((device) => device.certificate.sha256),
        input
      )
      const superseded = await certificatePems(
        shard,
        SUPERSEDED_FILE,
        manifest.superseded.map((entry) => entry.sha256),
        input
      )
      for (let start = 0; start < manifest.devices.length; start += IN_FLIGHT) {
        // Stopped by a signal: the placements in flight settled, nothing new starts.
        cancellation.throwIfRequested()
        const batch = manifest.devices.slice(start, start + IN_FLIGHT)
        const files = batch.flatMap(outputPaths)
        // Every placement settles before a failure is handled, so the clean-up below sees them all.
        const settled = await Promise.allSettled(files.map((relative) => place(path.join(shard.dir, relative), path.join(outputDir, relative), placed, folders)))
        for (const outcome of settled) {
          if (outcome.status === 'rejected') throw outcome.reason
          counts[outcome.value] += 1
        }
        for (const [offset, device] of batch.entries()) {
          review.addNow(device)
          exports.device(deviceOfEntry(device, active[start + offset]!))
          await review.drain()
          await exports.drain()
        }
      }
      for (const [index, entry] of manifest.superseded.entries()) {
        review.supersedeNow(entry)
        exports.superseded(entry, superseded[index]!)
        await review.drain()
        await exports.drain()
      }
      options.info?.(`Shard ${shard.header.shard.index}/${shard.header.shard.count} (${shard.display}): ${shard.devices} devices, ${shard.superseded} superseded`)
    }
    cancellation.throwIfRequested()
    // What the exports made from the run alone (a registration template) is the shards' own.
    const carried = await carryRunFiles(shards, exports.opened, outputDir, input, { placed, folders, counts })
    const exported = exports.summaries(await exports.commit(carried))
    // Revocations travel with their shards; the merged set's CRL is signed by credbake crl (the merge holds no key).
    const manifestPath = await review.commit(exported, { revoked: shards.flatMap((shard) => shard.revoked) })
    // The manifest vouches for DIR now: the merge is complete.
    await rm(path.join(outputDir, MERGE_MARKER), { force: true })
    return {
      manifestPath,
      certificatesPath: path.join(outputDir, CERTIFICATES_FILE),
      supersededPath: path.join(outputDir, SUPERSEDED_FILE),
      checksumsPath: path.join(outputDir, SHA256SUMS_FILE),
      outputDir,
      devices: review.devices,
      superseded: review.supersededCount,
      fleetCaSha256: first.fleetCa.sha256,
      header,
      shards: merged,
      exported,
      ...counts
    }
  } catch (error) {
    await review.abandon()
    await exports.abandon()
    // Exports committed before the failure vouch for nothing without the manifest.
    for (const file of exportFiles(exports.opened)) await rm(path.join(outputDir, file), { force: true })
    // No manifest vouches for them: the links made so far go again (the shards keep theirs). The
    // marker stays: a rerun recognises DIR as a merge that did not complete.
    for (const made of placed.reverse()) await rm(made, { recursive: true, force: true }).catch(() => undefined)
    throw error
  }
}

/** The parsed manifest, or a sentence saying why the file is not a credbake review manifest. */
async function readShard(file: string, name: string): Promise<ReviewManifest | string> {
  let text: string
  try {
    text = await readBoundedText(file, REVIEW_MANIFEST_LIMIT)
  } catch (error) {
    return `${name} cannot be read: ${messageOf(error)}`
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return `${name} is not a credbake review manifest (not JSON)`
  }
  const object = value as Partial<ReviewManifest> | null
  if (typeof object !== 'object' || object === null || Array.isArray(object) || object.tool?.name !== 'credbake') {
    return `${name} is not a credbake review manifest (no "tool": {"name": "credbake"}); give each shard's ${MANIFEST_FILE}`
  }
  if (object.schemaVersion !== MANIFEST_SCHEMA_VERSION) {
    return `${name} has schemaVersion ${JSON.stringify(object.schemaVersion)}; this credbake ${VERSION} merges schemaVersion ${MANIFEST_SCHEMA_VERSION}`
  }
  if (object.source === undefined) {
    return `${name} does not record the SHA-256 of the device manifest it was baked from (source.manifest): bake it again with this credbake version`
  }
  const schemaProblems = validateManifest(value)
  if (schemaProblems.length) {
    const listed = schemaProblems
      .slice(0, 3)
      .map((problem) => `${problem.path || '/'} ${problem.message}`)
      .join('; ')
    return `${name} does not match the manifest schema: ${listed}${schemaProblems.length > 3 ? ` (and ${schemaProblems.length - 3} more)` : ''}`
  }
  return object as ReviewManifest
}

/** Files of a device's output, relative to its output-dir: the output (or its tree) and its bmap. */
function outputPaths(device: ManifestDevice): string[] {
  return device.output.bmap ? [device.output.path, device.output.bmap.path] : [device.output.path]
}

async function outputProblems(dir: string, name: string, device: ManifestDevice, format: string, seen: Set<string>): Promise<string[]> {
  const problems: string[] = []
  for (const relative of outputPaths(device)) {
    // The same check as a bake's journal paths: FOLDER/SERIAL… inside the shard's folder.
    const problem = outputPathProblem(relative, OUTPUT_FOLDERS, device.serial)
    if (problem) {
      problems.push(`${name}: device ${device.serial}'s output path ${JSON.stringify(relative)} is not a path inside its output-dir (${problem})`)
      continue
    }
    try {
      await checkWay(dir, relative, seen)
    } catch (error) {
      if (!isCredbakeError(error)) throw error
      problems.push(`${name}: device ${device.serial}'s output ${relative} cannot be reached: ${error.message}`)
      continue
    }
    const file = path.join(dir, relative)
    let info
    try {
      info = await lstat(file)
    } catch {
      problems.push(`${name}: device ${device.serial}'s output ${relative} is missing beside it (${file}): download each shard's whole output-dir, not only its manifest`)
      continue
    }
    // A tree output (dir) is a folder; its bmap, and every other output, a file.
    const folder = findFormat(format)?.tree === true && relative === device.output.path
    if (folder ? !info.isDirectory() : !info.isFile()) {
      problems.push(`${name}: device ${device.serial}'s output ${relative} is not a ${folder ? 'folder' : 'file'}`)
    } else if (!folder && relative === device.output.path && info.size !== device.output.size) {
      problems.push(`${name}: device ${device.serial}'s output ${relative} has ${info.size} bytes, its manifest records ${device.output.size}`)
    }
  }
  return problems
}

/** Canonical JSON (sorted keys), to compare header parts whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>
    return `{${Object.keys(object)
      .sort()
      .filter((key) => object[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonical(object[key])}`)
      .join(',')}}`
  }
  return JSON.stringify(value)
}

/** What must be the same in every shard, each named as a user knows it. */
const SAME: Array<{ what: string; of: (header: ManifestHeader) => unknown; show?: (header: ManifestHeader) => string }> = [
  {
    what: 'device manifest (source.manifest.sha256)',
    of: (h) => h.source.manifest.sha256,
    show: (h) => `${h.source.manifest.path}, SHA-256 ${h.source.manifest.sha256.slice(0, 16)}…`
  },
  { what: 'fleet CA', of: (h) => h.fleetCa, show: (h) => `${h.fleetCa.subject}, SHA-256 ${h.fleetCa.sha256.slice(0, 16)}…` },
  { what: 'certificate profile', of: (h) => h.profile, show: (h) => profileText(h) },
  { what: 'layout', of: (h) => h.layout, show: (h) => `${h.layout.name} in ${h.layout.credentialsDir}` },
  { what: 'exports', of: (h) => h.exports ?? [], show: (h) => (h.exports?.length ? h.exports.join(', ') : 'none') },
  {
    what: 'output format',
    of: (h) => ({ format: h.output.format, compress: h.output.compress, image: h.output.image?.sha256 ?? null, partition: h.output.image?.partition ?? null }),
    show: (h) =>
      `${h.output.format}${h.output.compress !== 'none' ? `, ${h.output.compress}` : ''}${h.output.image?.sha256 ? `, base image SHA-256 ${h.output.image.sha256.slice(0, 16)}…` : ''}${h.output.image?.partition ? `, partition ${h.output.image.partition}` : ''}`
  }
]

function profileText(header: ManifestHeader): string {
  const p = header.profile
  const lifetime = p.lifetime.kind === 'days' ? `${p.lifetime.days} days` : p.lifetime.kind === 'until' ? `until ${p.lifetime.notAfter}` : 'never'
  return `${p.keyType}, subject ${p.subject}${p.san ? `, san ${p.san}` : ''}, ${lifetime}`
}

function consistencyProblems(shards: Shard[]): string[] {
  const problems: string[] = []
  const first = shards[0]!
  for (const rule of SAME) {
    const expected = canonical(rule.of(first.header))
    const differing = shards.filter((shard) => canonical(rule.of(shard.header)) !== expected)
    if (!differing.length) continue
    const describe = (shard: Shard): string => `${shard.display} (${rule.show ? rule.show(shard.header) : canonical(rule.of(shard.header))})`
    problems.push(`different ${rule.what}: ${describe(first)} and ${differing.map(describe).join(', ')}; every shard must be baked with the same settings`)
  }
  problems.push(...sharedFileProblems(shards))
  const counts = new Set(shards.map((shard) => shard.header.shard.count))
  if (counts.size > 1) {
    problems.push(`shards of different splits: ${shards.map((shard) => `${shard.display} is ${shard.header.shard.index}/${shard.header.shard.count}`).join(', ')}`)
    return problems
  }
  const count = first.header.shard.count
  const byIndex = new Map<number, Shard[]>()
  for (const shard of shards) byIndex.set(shard.header.shard.index, [...(byIndex.get(shard.header.shard.index) ?? []), shard])
  for (const [index, same] of [...byIndex].sort((a, b) => a[0] - b[0])) {
    if (same.length > 1) problems.push(`shard ${index}/${count} is given ${same.length} times: ${same.map((shard) => shard.display).join(', ')}`)
  }
  const missing: string[] = []
  for (let index = 1; index <= count; index++) if (!byIndex.has(index)) missing.push(`${index}/${count}`)
  if (missing.length) {
    const listed = missing.length > 50 ? `${missing.slice(0, 50).join(', ')} and ${missing.length - 50} more` : missing.join(', ')
    problems.push(`incomplete set: missing shard${missing.length > 1 ? 's' : ''} ${listed} (of ${count}); merge needs the manifests of all ${count} shards`)
  }
  return problems
}

/**
 * The installed files every device of a shard has alike (the server CA, the gateway URL: what
 * server-ca, gateway-url and credentials-zip put there), path → SHA-256. Needs two devices to
 * tell them from per-device files; a shard of one device has none.
 */
function sharedFiles(devices: readonly ManifestDevice[]): Map<string, string> {
  const shared = new Map<string, string>()
  if (devices.length < 2) return shared
  for (const file of devices[0]!.files) if (!file.privateKey && file.sha256) shared.set(file.path, file.sha256)
  for (const device of devices.slice(1)) {
    const here = new Map(device.files.map((file) => [file.path, file.sha256]))
    for (const [file, sha256] of shared) if (here.get(file) !== sha256) shared.delete(file)
  }
  return shared
}

/** Shards whose devices got a different server CA or gateway URL (files alike within each shard). */
function sharedFileProblems(shards: Shard[]): string[] {
  const withShared = shards.filter((shard) => shard.devices >= 2)
  const first = withShared[0]
  if (!first) return []
  const problems: string[] = []
  for (const shard of withShared.slice(1)) {
    const differing = [...new Set([...first.sharedFiles.keys(), ...shard.sharedFiles.keys()])].filter((file) => first.sharedFiles.get(file) !== shard.sharedFiles.get(file)).sort()
    if (differing.length) {
      problems.push(
        `different installed files ${differing.join(', ')} in ${first.display} and ${shard.display} (another server-ca, gateway-url or credentials-zip?); every shard must be baked with the same settings`
      )
    }
  }
  return problems
}

/** DIR is never a shard's own output-dir. */
function shardFolderProblems(outputDir: string, shards: Shard[], display: (file: string) => string): string[] {
  for (const shard of shards) {
    if (path.resolve(shard.dir) === outputDir) {
      return [`output-dir ${display(outputDir)} is the folder of shard ${shard.display}: merge into a folder of its own, e.g. credbake-out`]
    }
  }
  return []
}

/**
 * DIR (made and locked by now) must be empty, or hold an earlier merge, complete or not: a merge
 * killed before it completed left MERGE_MARKER. The lock is not content.
 */
async function outputDirProblems(outputDir: string, display: (file: string) => string): Promise<string[]> {
  let names: string[]
  try {
    // The lock, and credbake's temporary names: a lock draft a killed merge left, and the write
    // probe another merge started at the same moment makes before it tries the lock (seen here, it
    // once refused the merge holding the lock as "not empty"). prepareOutputDir clears them anyway.
    names = (await readdir(outputDir)).filter((name) => name !== LOCK_FILE && !(name.startsWith('.') && name.includes(TEMP_MARKER)))
  } catch (error) {
    return [`output-dir ${display(outputDir)} cannot be read: ${messageOf(error)}`]
  }
  if (names.includes(JOURNAL_FILE)) return [`output-dir ${display(outputDir)} holds a bake's journal (${JOURNAL_FILE}): merge into a folder of its own`]
  if (names.length === 0 || names.includes(MERGE_MARKER)) return []
  if (await isEarlierMerge(outputDir)) return []
  return [`output-dir ${display(outputDir)} is not empty and holds no earlier merge: merge into a new or empty folder`]
}

async function isEarlierMerge(outputDir: string): Promise<boolean> {
  try {
    // Not through a link: prepareOutputDir refused one at this name.
    const manifest = JSON.parse(await readBoundedText(path.join(outputDir, MANIFEST_FILE), REVIEW_MANIFEST_LIMIT)) as Partial<ReviewManifest>
    return manifest.tool?.name === 'credbake' && Array.isArray(manifest.merged)
  } catch {
    return false
  }
}

/**
 * An earlier merge into DIR, complete or not, is cleared: its manifest first (it vouches for the
 * rest), then its files, its output folders and what a killed merge left under temporary names.
 * The marker stays until this merge completes. rm never follows a link.
 */
async function removeEarlierMerge(outputDir: string, exporters: readonly ReviewExport[]): Promise<void> {
  await rm(path.join(outputDir, MANIFEST_FILE), { force: true })
  for (const name of exportFiles(exporters)) await rm(path.join(outputDir, name), { force: true })
  // The export folders too: files an earlier merge's exports wrote that this one's do not.
  for (const folder of [...OUTPUT_FOLDERS, ...exportFolders(exporters)]) await rm(path.join(outputDir, folder), { recursive: true, force: true })
  for (const name of await readdir(outputDir)) {
    if (name.startsWith('.') && name.includes(TEMP_MARKER)) await rm(path.join(outputDir, name), { recursive: true, force: true })
  }
}

/**
 * The PEMs of a shard's certificates.pem / superseded.pem, in manifest order, each checked against
 * the SHA-256 its manifest records (so the merged bundles say exactly what the manifests say).
 */
async function certificatePems(shard: Shard, file: string, expected: string[], input: string): Promise<string[]> {
  const where = path.join(shard.dir, file)
  const fail = (why: string): never => {
    throw new InputError(`Input "${input}": ${shard.display}: ${shardFileName(where, shard)} ${why}; download each shard's whole output-dir.`, { input, file: where })
  }
  let text = ''
  try {
    text = await readBoundedText(where, { maxBytes: INPUT_LIMITS.reviewFile, what: 'a certificate bundle' })
  } catch (error) {
    if (expected.length || (error as NodeJS.ErrnoException).code !== 'ENOENT') fail(`cannot be read (${messageOf(error)})`)
  }
  const certificates = certificateBlocks(text)
  if (typeof certificates === 'string') return fail(`is not a PEM bundle: ${certificates}`)
  if (certificates.length !== expected.length) fail(`holds ${certificates.length} certificates, its manifest lists ${expected.length}`)
  return certificates.map((der, index) => {
    if (sha256Hex(der) !== expected[index]) fail(`certificate ${index + 1} is not the one its manifest lists (SHA-256 differs)`)
    return toPem('CERTIFICATE', der)
  })
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END CERTIFICATE-----/g

/**
 * The DER of each CERTIFICATE block of a bundle credbake wrote, in one pass. Stricter than the
 * tolerant reader for user-given PEM (src/util/pem.ts): nothing but whole CERTIFICATE blocks.
 */
function certificateBlocks(text: string): Buffer[] | string {
  const blocks: Buffer[] = []
  let rest = ''
  let last = 0
  for (const match of text.matchAll(CERTIFICATE_BLOCK)) {
    rest += text.slice(last, match.index)
    last = match.index + match[0].length
    blocks.push(Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64'))
  }
  rest += text.slice(last)
  if (rest.includes('-----')) return 'it holds something other than whole CERTIFICATE blocks'
  return blocks
}

function shardFileName(file: string, shard: Shard): string {
  return path.join(path.dirname(shard.display), path.basename(file))
}

/**
 * Put a shard's output at `dest`: a hard link, else (another file system) a copy that keeps holes
 * and the mode. Folders (dir outputs) are made anew and filled the same way, file by file.
 */
async function place(src: string, dest: string, placed: string[], folders: Set<string>): Promise<'linked' | 'copied'> {
  const info = await lstat(src)
  const parent = path.dirname(dest)
  if (!folders.has(parent)) {
    await mkdir(parent, { recursive: true, mode: 0o755 })
    folders.add(parent)
  }
  if (info.isDirectory()) {
    await mkdir(dest, { mode: info.mode & 0o7777 })
    placed.push(dest)
    await chmod(dest, info.mode & 0o7777)
    let how: 'linked' | 'copied' = 'linked'
    for (const entry of await readdir(src, { withFileTypes: true })) {
      if (!entry.isDirectory() && !entry.isFile()) {
        throw new InputError(`Input "merge": ${path.join(src, entry.name)} is neither a file nor a folder; dir outputs hold only those.`, { input: 'merge' })
      }
      if ((await place(path.join(src, entry.name), path.join(dest, entry.name), [], folders)) === 'copied') how = 'copied'
    }
    return how
  }
  if (!info.isFile()) throw new InputError(`Input "merge": ${src} is not a regular file.`, { input: 'merge' })
  try {
    await link(src, dest)
    placed.push(dest)
    return 'linked'
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'ENOTSUP') throw error
  }
  placed.push(dest)
  await copyImage(src, dest)
  await chmod(dest, info.mode & 0o7777)
  const copied = await stat(dest)
  if (copied.size !== info.size) throw new Error(`copying ${src} to ${dest} gave ${copied.size} bytes, not ${info.size}`)
  return 'copied'
}

/**
 * The files the merged exports make from the run alone (`runFiles`: what a bake wrote from its
 * fleet CA certificate), taken from the shards: each shard must hold it, byte for byte the same;
 * the first shard's is placed in DIR and listed in SHA256SUMS.
 */
async function carryRunFiles(
  shards: readonly Shard[],
  exporters: readonly ReviewExport[],
  outputDir: string,
  input: string,
  into: { placed: string[]; folders: Set<string>; counts: Record<'linked' | 'copied', number> }
): Promise<ExportedFile[]> {
  const carried: ExportedFile[] = []
  for (const file of exporters.flatMap((item) => item.runFiles ?? [])) {
    const digests: string[] = []
    for (const shard of shards) {
      try {
        await checkWay(shard.dir, file)
        digests.push(await sha256File(path.join(shard.dir, file), { inside: true }))
      } catch (error) {
        throw new InputError(`Input "${input}": ${shard.display}: ${file} cannot be read (${messageOf(error)}); download each shard's whole output-dir.`, { input })
      }
    }
    if (new Set(digests).size > 1) {
      throw new InputError(`Input "${input}": the shards hold different ${file} files; every shard must be baked with the same fleet CA and exports.`, { input })
    }
    into.counts[await place(path.join(shards[0]!.dir, file), path.join(outputDir, file), into.placed, into.folders)] += 1
    carried.push({ path: file, sha256: digests[0]! })
  }
  return carried
}
