// What a bake must know about its target partition before the first certificate is issued, read
// from the base image once: where the files go (an OSTree stateroot's var, or the device paths
// themselves), and what a reviewer must be warned about (one slot of an A/B pair, a private key on
// FAT, files already in the credentials folder that every device will keep). Refusals here are
// input errors (exit 2): ostree-os and credentials-dir decide them.
import path from 'node:path'
import { LAYOUT_FILES } from '../bundle/layouts.js'
import { ImageError, InputError } from '../errors.js'
import { ostreePathRefusal, staterootVar, sysrootPath } from '../placement/ostree.js'
import type { PreexistingFile, ReviewWarning } from '../shapes/output.js'
import type { Layout } from '../settings/types.js'
import { sha256Hex } from '../util/hash.js'
import { abPartner, persistentCandidates, selectorFor } from './ab.js'
import { fileType, listExtDirs, readExtFiles } from './debugfs.js'
import { isExt, isFat } from './fs.js'
import { listFat, readFatFiles } from './mtools.js'
import { chooseStateroot, describeStateroot, detectOstreeSysroot } from './ostree.js'
import { octal } from './paths.js'
import type { Partition } from './table.js'
import { describePartition } from './write.js'

export interface TargetSettings {
  ostreeOs?: string
  credentialsDir: string
  layout: Layout
  /** Whether the optional files of the layout are baked (server-ca, gateway-url given). */
  serverCa: boolean
  gatewayUrl: boolean
}

export interface TargetFindings {
  /** The stateroot whose var receives the files, when the partition holds an OSTree sysroot. */
  ostree?: { os: string; sysrootPaths: true; deployments: string[] }
  /** Things to say in the log (info). */
  notes: string[]
  /** Warnings for the log, the summary and the manifest, at most one per code. */
  warnings: ReviewWarning[]
  preexisting: PreexistingFile[]
}

export interface TargetInput {
  /** The (decompressed) base image to read; never written. */
  image: string
  /** How messages name the image (what the user gave). */
  shownImage: string
  partitions: readonly Partition[]
  partition: Partition
  settings: TargetSettings
  /** 0700 folder for the files debugfs/mtools copy out. */
  tempDir: string
}

export async function examineTarget(input: TargetInput): Promise<TargetFindings> {
  const findings: TargetFindings = { notes: [], warnings: [], preexisting: [] }
  const where = describePartition(input.partition)
  const read = { image: input.image, offset: input.partition.start, partition: where, tempDir: input.tempDir, serial: 'base image' }
  await findPlacement(input, read, where, findings)
  warnAboutSlot(input, where, findings)
  warnAboutFatKey(input, where, findings)
  await findPreexisting(input, read, where, findings)
  return findings
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

async function findPlacement(input: TargetInput, read: Parameters<typeof detectOstreeSysroot>[0], where: string, findings: TargetFindings): Promise<void> {
  const { settings } = input
  if (!isExt(input.partition.fileSystem.type)) {
    if (settings.ostreeOs !== undefined) {
      throw new InputError(
        `Input "ostree-os" is set, but ${where} of ${input.shownImage} is ${input.partition.fileSystem.type}: FAT cannot hold an OSTree sysroot (no symlinks, hard links or modes). Select the ext partition that holds it (often labelled otaroot), or drop ostree-os.`,
        { input: 'ostree-os' }
      )
    }
    return
  }
  const sysroot = await detectOstreeSysroot(read)
  if (!sysroot) {
    if (settings.ostreeOs !== undefined) {
      throw new InputError(
        `Input "ostree-os" is "${settings.ostreeOs}", but ${where} of ${input.shownImage} holds no OSTree sysroot (no /ostree/repo with /ostree/deploy/NAME/var). Select the partition that holds it (often labelled otaroot), or drop ostree-os.`,
        { input: 'ostree-os' }
      )
    }
    return
  }
  const stateroot = chooseStateroot(sysroot, settings.ostreeOs, where)
  const refusal = ostreePathRefusal(settings.credentialsDir, stateroot.name)
  if (refusal !== undefined) {
    throw new InputError(`${where} of ${input.shownImage} holds an OSTree sysroot, and credentials-dir ${settings.credentialsDir} cannot be used there: ${refusal}`, {
      input: 'credentials-dir'
    })
  }
  findings.ostree = { os: stateroot.name, sysrootPaths: true, deployments: stateroot.deployments }
  const chosen = settings.ostreeOs !== undefined ? 'chosen with ostree-os' : 'the only one'
  findings.notes.push(
    `${capitalized(where)} holds an OSTree sysroot: stateroot ${describeStateroot(stateroot)}, ${chosen}. The booted system mounts ${staterootVar(stateroot.name)} at /var, so ${settings.credentialsDir} is written to ${sysrootPath(settings.credentialsDir, stateroot.name)}.`
  )
}

function warnAboutSlot(input: TargetInput, where: string, findings: TargetFindings): void {
  const partner = abPartner(input.partitions, input.partition)
  if (!partner) return
  const candidates = persistentCandidates(input.partitions, [input.partition, partner])
  const target =
    candidates.length > 0
      ? `Bake them into a persistent partition instead: ${candidates.map((p) => `${describePartition(p)} (partition: ${selectorFor(p)})`).join(' or ')}, with a credentials-dir the device reads there (a data partition mounted at /data: credentials-dir /sota/import on it is /data/sota/import on the device; point aktualizr's [import] base_path there, or link /var/sota to it).`
      : 'No partition with a data-like label or name (data, persist, storage) was found: bake into the partition your updater keeps across updates (partition: label=NAME), with a credentials-dir the device reads there.'
  findings.warnings.push({
    code: 'ab-slot',
    message:
      `${capitalized(where)} is one slot of an A/B pair with ${describePartition(partner)} (same ${input.partition.fileSystem.type} file system and size, names that differ only in the slot suffix). ` +
      `An update writes the other slot and boots it, so credentials baked into this one will not survive the first update. ${target}`
  })
}

function warnAboutFatKey(input: TargetInput, where: string, findings: TargetFindings): void {
  if (!isFat(input.partition.fileSystem.type)) return
  const key = LAYOUT_FILES[input.settings.layout].find((file) => file.source === 'private-key')
  if (!key) return
  findings.warnings.push({
    code: 'fat-private-key',
    message:
      `Each device's private key (${key.name}, for devices without a csr) goes into ${where}, a ${input.partition.fileSystem.type} file system: FAT has no file modes or owners, so the key is readable by every user the mount allows (vfat's default takes the mounting process's umask, typically 022: world-readable). ` +
      'Mount it with fmask=0177,dmask=0077 (or umask=0077) and uid=0,gid=0, or bake into an ext partition.'
  })
}

/** The names the bundle writes into the credentials folder (the key for every device without a csr). */
function bundleNames(settings: TargetSettings): string[] {
  return LAYOUT_FILES[settings.layout]
    .filter((file) => !file.optional || (file.source === 'server-ca' ? settings.serverCa : file.source === 'gateway-url' ? settings.gatewayUrl : true))
    .map((file) => file.name)
}

/**
 * Files already in the credentials folder of the base image that the bundle does not replace:
 * every output keeps them, so they are recorded (size, SHA-256, mode, owner) and warned about.
 * Anything there that is not a regular file (a folder, a link) is refused: it cannot be recorded
 * as a file, and verify would call it an extra file on every device.
 */
async function findPreexisting(
  input: TargetInput,
  read: { image: string; offset: number; partition: string; tempDir: string; serial: string },
  where: string,
  findings: TargetFindings
): Promise<void> {
  const deviceDir = input.settings.credentialsDir
  const placedDir = findings.ostree ? sysrootPath(deviceDir, findings.ostree.os) : deviceDir
  const fat = isFat(input.partition.fileSystem.type)
  const fold = (name: string): string => (fat ? name.toUpperCase() : name)
  const written = new Set(bundleNames(input.settings).map(fold))
  const others: Array<{ name: string; kind: string; mode: number | null; uid: number | null; gid: number | null }> = []
  if (isExt(input.partition.fileSystem.type)) {
    const listing = (await listExtDirs(read, [placedDir])).get(placedDir)
    for (const entry of listing ?? []) {
      if (!written.has(entry.name)) others.push({ name: entry.name, kind: fileType(entry.mode), mode: entry.mode & 0o7777, uid: entry.uid, gid: entry.gid })
    }
  } else if (fat) {
    const { listed } = await listFat(read, [placedDir])
    for (const entry of listed.values()) {
      const name = path.posix.basename(entry.path)
      if (path.posix.dirname(entry.path).toUpperCase() !== placedDir.toUpperCase() || written.has(fold(name))) continue
      others.push({ name, kind: entry.state.kind, mode: null, uid: null, gid: null })
    }
  }
  if (others.length === 0) return
  // Names the tools' scripts cannot quote, and special mode bits, are refused like other odd entries.
  const odd = others.filter((entry) => entry.kind !== 'file' || /["\\\u0000-\u001f\u007f]/.test(entry.name) || (entry.mode !== null && (entry.mode & 0o7000) !== 0))
  if (odd.length > 0) {
    const what = (e: (typeof others)[number]): string =>
      e.kind === 'dir'
        ? 'a folder'
        : e.kind === 'symlink'
          ? 'a symbolic link'
          : e.kind !== 'file'
            ? 'not a regular file'
            : e.mode !== null && (e.mode & 0o7000) !== 0
              ? 'setuid, setgid or sticky'
              : 'a name with quotes or control characters'
    throw new ImageError(
      `The credentials folder ${deviceDir} in ${where} of ${input.shownImage} already holds ${odd.map((e) => `${JSON.stringify(e.name)} (${what(e)})`).join(', ')}. ` +
        'credbake records what the base image leaves in that folder as files (size, SHA-256), which these are not: remove them from the base image, or choose another credentials-dir.',
      { input: 'credentials-dir', file: input.shownImage }
    )
  }
  others.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const paths = others.map((entry) => path.posix.join(placedDir, entry.name))
  const contents = isExt(input.partition.fileSystem.type) ? (await readExtFiles(read, paths)).files.map((file) => file?.content ?? null) : (await readFatFiles(read, paths)).files
  others.forEach((entry, i) => {
    const content = contents[i]
    if (!content) throw new ImageError(`Cannot read ${paths[i]} from ${where} of ${input.shownImage}, though it is listed there.`, { file: input.shownImage })
    const devicePath = path.posix.join(deviceDir, entry.name)
    findings.preexisting.push({
      path: devicePath,
      ...(paths[i] !== devicePath ? { partitionPath: paths[i]! } : {}),
      size: content.length,
      sha256: sha256Hex(content),
      mode: entry.mode === null ? null : octal(entry.mode),
      owner: entry.uid === null ? null : `${entry.uid}:${entry.gid}`
    })
  })
  findings.warnings.push({
    code: 'preexisting-files',
    message:
      `The credentials folder ${deviceDir} in ${where} of the base image already holds ${others.length} file${others.length > 1 ? 's' : ''} the bundle does not replace: ${others.map((e) => (/^[\w.+@-]+$/.test(e.name) ? e.name : JSON.stringify(e.name))).join(', ')}. ` +
      'Every device keeps them beside its new credentials; the manifest lists them under output.image.preexisting (size, SHA-256, mode, owner) and verify accepts exactly these. Remove them from the base image if the devices should not have them.'
  })
}
