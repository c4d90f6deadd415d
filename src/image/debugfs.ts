// Writing a bundle into an ext2/3/4 file system inside an image with debugfs, no mount, no root.
// Per device: one `debugfs -w -f SCRIPT 'IMAGE?offset=N'` process that writes everything, closes
// the file system (flushing it) and reopens it read-only to stat and dump every written file for
// comparison. debugfs exits 0 even when it fails and prints its version banner on stderr, so every
// other stderr line counts as a failure. Which directories/files already exist is probed once
// per base image (see `probeCache`).
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { BundleFile } from '../bundle/types.js'
import { ImageError, OutputError, ToolError } from '../errors.js'
import type { InstalledFile } from '../shapes/output.js'
import { sha256Hex } from '../util/hash.js'
import { lines, runTool, toolImage } from './exec.js'
import { EXT_FEATURE_SINCE, EXT_INCOMPAT_JOURNAL_DEV, EXT_INCOMPAT_RECOVER, extFeatureNames } from './fs.js'
import { readAt } from './io.js'
import { ancestorDirs, checkDevicePaths, octal, type DirState, type FsWriteOptions } from './paths.js'

export type { DirState } from './paths.js'

export interface ExtWriteOptions extends FsWriteOptions {
  /** Mode of directories that have to be created; default 0o755, owner 0:0. */
  dirMode?: number
  /**
   * Read back in a second debugfs process instead of a second session of the same one. Used
   * automatically when the image path cannot be quoted in a debugfs script.
   */
  separateReadBack?: boolean
}

const PAGER_OFF = { DEBUGFS_PAGER: '__none__', PAGER: '__none__' }

function target(image: string, offset: number): string {
  return `${toolImage(image).name}?offset=${offset}`
}

function q(value: string): string {
  // checkDevicePaths and our temp names exclude '"' and control characters, so quoting is enough.
  return `"${value}"`
}

/** stderr lines that are not the version banner ("debugfs 1.47.0 (5-Feb-2023)"). */
function problems(stderr: string): { banner: string | undefined; errors: string[] } {
  const all = lines(stderr)
  const banner = all.find((l) => /^debugfs \d/.test(l))
  return { banner, errors: all.filter((l) => l !== banner) }
}

function e2fsprogsVersion(banner: string | undefined): string {
  return /^debugfs (\S+)/.exec(banner ?? '')?.[1] ?? 'unknown'
}

function versionAtLeast(have: string, need: string): boolean {
  const a = have.split('.').map(Number)
  const b = need.split('.').map(Number)
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0
    const y = b[i] ?? 0
    if (Number.isNaN(x)) return true
    if (x !== y) return x > y
  }
  return true
}

async function readSuperblock(image: string, offset: number): Promise<Buffer> {
  const handle = await open(image, 'r')
  try {
    return await readAt(handle, offset + 1024, 1024)
  } finally {
    await handle.close()
  }
}

/** Features debugfs refused, named from the superblock, with the e2fsprogs release that added them. */
async function unsupportedFeatureError(opts: ExtWriteOptions, banner: string | undefined, line: string): Promise<ImageError> {
  const version = e2fsprogsVersion(banner)
  let named = ''
  try {
    const sb = await readSuperblock(opts.image, opts.offset)
    const all = extFeatureNames(sb.readUInt32LE(0x5c), sb.readUInt32LE(0x60), sb.readUInt32LE(0x64))
    const blamed = all.filter((f) => /^(incompat|ro_compat|compat)_0x/.test(f) || (EXT_FEATURE_SINCE[f] !== undefined && !versionAtLeast(version, EXT_FEATURE_SINCE[f])))
    named =
      blamed.length > 0
        ? ` Features it does not know: ${blamed.map((f) => (EXT_FEATURE_SINCE[f] ? `${f} (needs e2fsprogs >= ${EXT_FEATURE_SINCE[f]})` : f)).join(', ')}.`
        : ` The file system's features: ${all.join(', ')}.`
  } catch {
    // keep the message without feature names
  }
  return new ImageError(
    `The ext file system in ${opts.partition} uses features the installed e2fsprogs ${version} cannot write (debugfs: "${line}").${named} ` +
      'Install a newer e2fsprogs on the runner, or build the image without those features (mkfs.ext4 -O ^FEATURE).',
    { file: opts.image }
  )
}

async function failure(opts: ExtWriteOptions, banner: string | undefined, errors: string[], stage: string): Promise<Error> {
  const first = errors[0] ?? ''
  const shown = errors.slice(0, 5).join('; ')
  if (/unsupported (read-only )?feature/i.test(first)) return unsupportedFeatureError(opts, banner, first)
  if (errors.some((l) => /Could not allocate (block|inode)|No free space|No space left/i.test(l))) {
    return new OutputError(
      `Device ${opts.serial}: ${opts.partition} is too full for the credentials (debugfs: ${shown}). Free space in that file system or make the partition larger in the base image.`,
      { input: 'partition', serial: opts.serial, file: opts.image }
    )
  }
  if (/No such file or directory while trying to open|Bad magic number|Superblock checksum does not match|while trying to open/i.test(first)) {
    return new ImageError(`debugfs cannot open the ext file system in ${opts.partition} of ${opts.image}: ${first}`, { file: opts.image, serial: opts.serial })
  }
  return new ToolError(`debugfs failed while ${stage} for device ${opts.serial} in ${opts.partition}: ${shown}`, { serial: opts.serial })
}

/** Split `debugfs -f` stdout into the output of each command (each starts with its echo line). */
function sections(stdout: string): string[] {
  const out: string[] = []
  for (const line of stdout.split('\n')) {
    if (line.startsWith('debugfs: ')) out.push('')
    else if (out.length > 0) out[out.length - 1] += `${line}\n`
  }
  return out
}

interface StatInfo {
  type: string
  mode: number
  uid: number
  gid: number
  size: number
  linkTarget?: string
}

function parseStat(text: string): StatInfo | null {
  const head = /Type:\s+(\S+)\s+Mode:\s+([0-7]+)/.exec(text)
  const owner = /User:\s+(\d+)\s+Group:\s+(\d+)/.exec(text)
  const size = /\bSize:\s+(\d+)/.exec(text.slice(owner?.index ?? 0))
  if (!head || !owner || !size) return null
  const link = /Fast link dest:\s+"(.*)"/.exec(text)
  return { type: head[1]!, mode: parseInt(head[2]!, 8), uid: Number(owner[1]), gid: Number(owner[2]), size: Number(size[1]), ...(link ? { linkTarget: link[1]! } : {}) }
}

/** Run debugfs read-only with a script; returns per-command output sections. */
async function runScript(
  opts: ExtWriteOptions,
  work: string,
  name: string,
  commands: string[],
  write: boolean
): Promise<{ outputs: string[]; banner: string | undefined; errors: string[] }> {
  const script = path.join(work, name)
  await writeFile(script, `${commands.join('\n')}\n`, { mode: 0o600 })
  const args = write ? ['-w', '-f', script, target(opts.image, opts.offset)] : ['-f', script, target(opts.image, opts.offset)]
  const result = await runTool('debugfs', args, { env: { ...process.env, ...PAGER_OFF }, cwd: toolImage(opts.image).cwd })
  const { banner, errors } = problems(result.stderr)
  if (result.signal) errors.push(`debugfs was killed by ${result.signal}`)
  return { outputs: sections(result.stdout.toString('utf8')), banner, errors }
}

/** Ask the (base or copy) image what exists at `paths`; fills `cache`. */
async function probe(opts: ExtWriteOptions, work: string, paths: string[], cache: Map<string, DirState>): Promise<void> {
  const missing = paths.filter((p) => !cache.has(p))
  if (missing.length === 0) return
  const { outputs, banner, errors } = await runScript(
    opts,
    work,
    'probe.debugfs',
    missing.map((p) => `stat ${q(p)}`),
    false
  )
  // Paths that do not exist (or sit below a file) are expected answers here; the caller turns
  // an ancestor that is a file into a clear error.
  const real = errors.filter((l) => !/File not found by ext2_lookup|Ext2 inode is not a directory/.test(l))
  if (real.length > 0) throw await failure(opts, banner, real, 'checking which directories exist')
  if (outputs.length !== missing.length)
    throw new ToolError(`debugfs answered ${outputs.length} of ${missing.length} stat commands while checking ${opts.partition}; its output: ${outputs.join(' | ').slice(0, 500)}`)
  missing.forEach((p, i) => {
    const stat = parseStat(outputs[i]!)
    if (!stat) cache.set(p, { kind: 'missing' })
    else if (stat.type === 'directory') cache.set(p, { kind: 'dir' })
    else if (stat.type === 'symlink') cache.set(p, { kind: 'symlink', target: stat.linkTarget ?? '?' })
    else cache.set(p, { kind: 'file' })
  })
}

/** A file as debugfs reads it back: its inode's type, mode, owner and size, and the bytes dumped. */
export interface ExtReadBack extends StatInfo {
  /** null when the dump produced nothing readable. */
  content: Buffer | null
}

/**
 * debugfs commands that stat and dump each of `paths` into `work`/r<i>, shared by the writer's
 * read-back and `credbake verify`. debugfs's dump creates files 0666 minus the umask and one is
 * the device key: the targets are pre-created 0600 here (dump truncates a file and keeps its mode).
 */
export async function readBackCommands(paths: readonly string[], work: string): Promise<string[]> {
  await Promise.all(paths.map((_, i) => writeFile(path.join(work, `r${i}`), '', { mode: 0o600 })))
  return paths.flatMap((p, i) => [`stat ${q(p)}`, `dump ${q(p)} ${q(path.join(work, `r${i}`))}`])
}

/** The outputs of readBackCommands, per path: what stat said and the dumped bytes; null when absent. */
export async function collectReadBack(outputs: readonly string[], paths: readonly string[], work: string): Promise<Array<ExtReadBack | null>> {
  const result: Array<ExtReadBack | null> = []
  for (const [i] of paths.entries()) {
    const stat = parseStat(outputs[2 * i] ?? '')
    const dumped = path.join(work, `r${i}`)
    const bytes = stat ? await readFile(dumped).catch(() => null) : null
    await rm(dumped, { force: true })
    result.push(stat ? { ...stat, content: bytes } : null)
  }
  return result
}

/** Where to read: an ext file system at `offset` of `image`, `partition` naming it in messages. */
export interface ExtReadOptions {
  image: string
  offset: number
  partition: string
  /** 0700 folder for the dumped files (they include the device key). */
  tempDir: string
  serial: string
}

/**
 * Read `paths` (stat + bytes, the writer's read-back) and list the entries of `dirs` (names of
 * what is in them, "." and ".." left out; null for a directory that is not there) from an ext
 * file system, read-only, in one debugfs run. Used by `credbake verify`.
 */
export async function readExtFiles(
  opts: ExtReadOptions,
  paths: readonly string[],
  dirs: readonly string[] = []
): Promise<{ files: Array<ExtReadBack | null>; listings: Map<string, string[] | null> }> {
  const work = await mkdtemp(path.join(opts.tempDir, 'debugfs-'))
  const options = { ...opts, files: [] }
  try {
    const commands = [...(await readBackCommands(paths, work)), ...dirs.map((d) => `ls -p ${q(d)}`)]
    const read = await runScript(options, work, 'read.debugfs', commands, false)
    const hard = read.errors.filter((l) => !/File not found by ext2_lookup|Ext2 inode is not a directory/.test(l))
    if (hard.length > 0) throw await failure(options, read.banner, hard, 'reading')
    if (read.outputs.length !== commands.length)
      throw new ToolError(`debugfs answered ${read.outputs.length} of ${commands.length} commands while reading ${opts.partition} of ${opts.image}`)
    const files = await collectReadBack(read.outputs, paths, work)
    const listings = new Map<string, string[] | null>()
    dirs.forEach((dir, i) => {
      listings.set(dir, parseListing(read.outputs[2 * paths.length + i] ?? '')?.map((entry) => entry.name) ?? null)
    })
    return { files, listings }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/** One entry of a directory as `debugfs ls -p` shows it. */
export interface ExtDirEntry {
  name: string
  inode: number
  /** Type and permission bits, e.g. 0o100600 for a 0600 regular file, 0o40755 for a folder. */
  mode: number
  uid: number
  gid: number
  /** Bytes; 0 for folders. */
  size: number
}

/** S_IFMT of a mode: 0o040000 folder, 0o100000 regular file, 0o120000 symlink. */
export function fileType(mode: number): 'dir' | 'file' | 'symlink' | 'other' {
  const type = mode & 0o170000
  return type === 0o040000 ? 'dir' : type === 0o100000 ? 'file' : type === 0o120000 ? 'symlink' : 'other'
}

/**
 * `ls -p` output: one "/inode/mode/uid/gid/name/size/" line per entry ("." and ".." left out);
 * null when debugfs printed nothing (the folder is not there: a present one lists "." at least).
 */
function parseListing(output: string): ExtDirEntry[] | null {
  if (output.trim() === '') return null
  const entries: ExtDirEntry[] = []
  for (const line of lines(output)) {
    const match = /^\/(\d+)\/([0-7]+)\/(\d+)\/(\d+)\/(.*)\/(\d*)\/$/.exec(line)
    if (!match || match[5] === '.' || match[5] === '..') continue
    entries.push({ name: match[5]!, inode: Number(match[1]), mode: parseInt(match[2]!, 8), uid: Number(match[3]), gid: Number(match[4]), size: Number(match[6] || 0) })
  }
  return entries
}

/**
 * The entries of each of `dirs` (absolute paths without quotes or control characters) in an ext
 * file system, read-only, in one debugfs run; null for a folder that is not there.
 */
export async function listExtDirs(opts: ExtReadOptions, dirs: readonly string[]): Promise<Map<string, ExtDirEntry[] | null>> {
  const listings = new Map<string, ExtDirEntry[] | null>()
  if (dirs.length === 0) return listings
  const work = await mkdtemp(path.join(opts.tempDir, 'debugfs-'))
  const options = { ...opts, files: [] }
  try {
    const read = await runScript(
      options,
      work,
      'list.debugfs',
      dirs.map((d) => `ls -p ${q(d)}`),
      false
    )
    const hard = read.errors.filter((l) => !/File not found by ext2_lookup|Ext2 inode is not a directory/.test(l))
    if (hard.length > 0) throw await failure(options, read.banner, hard, 'listing folders')
    if (read.outputs.length !== dirs.length)
      throw new ToolError(`debugfs answered ${read.outputs.length} of ${dirs.length} commands while listing ${opts.partition} of ${opts.image}`)
    dirs.forEach((dir, i) => listings.set(dir, parseListing(read.outputs[i]!)))
    return listings
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/**
 * Write `files` into the ext2/3/4 file system at `offset` of `image`, creating missing parent
 * directories (0755, 0:0), replacing existing files, setting each file's mode and owner, then
 * reading everything back. Throws unless every file reads back identical.
 */
export async function writeExtFiles(opts: ExtWriteOptions): Promise<InstalledFile[]> {
  checkDevicePaths(opts.files)
  const sb = await readSuperblock(opts.image, opts.offset)
  if (sb.length < 1024 || sb.readUInt16LE(56) !== 0xef53) {
    throw new ImageError(`${opts.partition} of ${opts.image} holds no ext2/3/4 file system at byte ${opts.offset}.`, { file: opts.image })
  }
  const incompat = sb.readUInt32LE(0x60)
  if (incompat & EXT_INCOMPAT_RECOVER) {
    throw new ImageError(`The ext file system in ${opts.partition} was not cleanly unmounted (its journal needs recovery). Run e2fsck -fy on it when building the image.`, {
      file: opts.image
    })
  }
  if (incompat & EXT_INCOMPAT_JOURNAL_DEV) {
    throw new ImageError(`${opts.partition} is an external ext journal device, not a file system; select the file-system partition.`, { input: 'partition', file: opts.image })
  }

  const work = await mkdtemp(path.join(opts.tempDir, 'debugfs-'))
  try {
    const cache = opts.probeCache ?? new Map<string, DirState>()
    const dirs = ancestorDirs(opts.files.map((f) => f.path))
    await probe(opts, work, [...dirs, ...opts.files.map((f) => f.path)], cache)
    for (const dir of dirs) {
      const state = cache.get(dir)!
      if (state.kind === 'symlink') {
        throw new ImageError(
          `${dir} is a symbolic link to ${state.target} in ${opts.partition}; debugfs does not follow links, so point the credentials directory at the real path.`,
          { input: 'credentials-dir', file: opts.image }
        )
      }
      if (state.kind === 'file')
        throw new ImageError(`${dir} exists in ${opts.partition} but is not a directory; choose another credentials directory.`, { input: 'credentials-dir', file: opts.image })
    }
    for (const file of opts.files) {
      if (cache.get(file.path)!.kind === 'dir')
        throw new ImageError(`${file.path} is a directory in ${opts.partition}; a credential file cannot replace it.`, { input: 'credentials-dir', file: opts.image })
    }

    // One write run: directories parents-first, then for each file rm (if present), write, sif.
    const dirMode = opts.dirMode ?? 0o755
    const commands: string[] = []
    for (const dir of dirs) {
      if (cache.get(dir)!.kind !== 'missing') continue
      commands.push(`mkdir ${q(dir)}`, `sif ${q(dir)} mode 0${(0o40000 | dirMode).toString(8)}`, `sif ${q(dir)} uid 0`, `sif ${q(dir)} gid 0`)
    }
    const hostFiles: string[] = []
    for (const [index, file] of opts.files.entries()) {
      const host = path.join(work, `f${index}`)
      await writeFile(host, file.content, { mode: 0o600 })
      hostFiles.push(host)
      if (cache.get(file.path)!.kind !== 'missing') commands.push(`rm ${q(file.path)}`)
      commands.push(
        `write ${q(host)} ${q(file.path)}`,
        `sif ${q(file.path)} mode 0${(0o100000 | (file.mode & 0o7777)).toString(8)}`,
        `sif ${q(file.path)} uid ${file.uid}`,
        `sif ${q(file.path)} gid ${file.gid}`
      )
    }
    // Read-back: stat for mode/owner/size, dump for the bytes.
    const createdDirs = dirs.filter((d) => cache.get(d)!.kind === 'missing')
    const readCommands = [
      ...createdDirs.map((d) => `stat ${q(d)}`),
      ...(await readBackCommands(
        opts.files.map((f) => f.path),
        work
      ))
    ]
    // A path missing on read-back is a mismatch reported per file below, not a tool failure.
    const notFound = (l: string): boolean => /File not found by ext2_lookup/.test(l)
    let read: { outputs: string[]; banner: string | undefined; errors: string[] }
    if (opts.separateReadBack || /["\\\u0000-\u001f]/.test(opts.image)) {
      const written = await runScript(opts, work, 'write.debugfs', commands, true)
      if (written.errors.length > 0) throw await failure(opts, written.banner, written.errors, 'writing')
      await Promise.all(hostFiles.map((f) => rm(f, { force: true })))
      read = await runScript(opts, work, 'read.debugfs', readCommands, false)
    } else {
      // One process, two sessions: close_filesys flushes everything and drops debugfs's block
      // cache; the read-only open_filesys then reads what is in the file, as a second run would,
      // without paying for a second process start (the largest cost per device after the copy).
      const all = [...commands, 'close_filesys', `open_filesys ${q(target(opts.image, opts.offset))}`, ...readCommands]
      const both = await runScript(opts, work, 'write.debugfs', all, true)
      const hard = both.errors.filter((l) => !notFound(l))
      if (hard.length > 0) throw await failure(opts, both.banner, hard, 'writing')
      read = { ...both, outputs: both.outputs.slice(commands.length + 2) }
    }
    const readErrors = read.errors.filter((l) => !notFound(l))
    if (readErrors.length > 0) throw await failure(opts, read.banner, readErrors, 'reading back')
    const complaints = read.errors.length > 0 ? ` (debugfs said: ${read.errors.slice(0, 3).join('; ')})` : ''
    const verifyError = (message: string): ToolError =>
      new ToolError(`Device ${opts.serial}: read-back of ${opts.partition} failed: ${message}${complaints}. The image does not hold what was written.`, { serial: opts.serial })
    createdDirs.forEach((dir, i) => {
      const stat = parseStat(read.outputs[i] ?? '')
      if (!stat || stat.type !== 'directory') throw verifyError(`directory ${dir} is missing`)
      if ((stat.mode & 0o7777) !== dirMode || stat.uid !== 0 || stat.gid !== 0) throw verifyError(`directory ${dir} has mode ${octal(stat.mode)} owner ${stat.uid}:${stat.gid}`)
    })
    const installed: InstalledFile[] = []
    const back = await collectReadBack(
      read.outputs.slice(createdDirs.length),
      opts.files.map((f) => f.path),
      work
    )
    for (const [i, file] of opts.files.entries()) {
      const stat = back[i]
      if (!stat || stat.type !== 'regular') throw verifyError(`${file.path} is missing or not a regular file`)
      const mode = file.mode & 0o7777
      if ((stat.mode & 0o7777) !== mode) throw verifyError(`${file.path} has mode ${octal(stat.mode)}, expected ${octal(mode)}`)
      if (stat.uid !== file.uid || stat.gid !== file.gid) throw verifyError(`${file.path} is owned by ${stat.uid}:${stat.gid}, expected ${file.uid}:${file.gid}`)
      if (stat.size !== file.content.length) throw verifyError(`${file.path} is ${stat.size} bytes, expected ${file.content.length}`)
      if (!stat.content || !stat.content.equals(file.content)) throw verifyError(`${file.path} does not read back byte-identical`)
      installed.push({
        path: file.path,
        mode: octal(mode),
        owner: `${file.uid}:${file.gid}`,
        sha256: file.secret ? null : sha256Hex(file.content),
        size: file.content.length,
        secret: file.secret
      })
    }
    return installed
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
