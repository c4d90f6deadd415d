// Writing a bundle into a FAT12/16/32 file system inside an image with mtools (`IMAGE@@OFFSET`),
// no mount, no root. FAT has no modes or owners: InstalledFile reports them as null. Every file
// is copied back out and compared.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { BundleFile } from '../bundle/types.js'
import { ImageError, OutputError, ToolError } from '../errors.js'
import type { InstalledFile } from '../shapes/output.js'
import { sha256Hex } from '../util/hash.js'
import { lines, runTool, toolImage, type ToolResult } from './exec.js'
import { ancestorDirs, checkDevicePaths, type DirState, type FsWriteOptions } from './paths.js'

/** Keys of probeCache are upper-cased paths (FAT compares names case-insensitively). */
export type FatWriteOptions = FsWriteOptions

// Skip mtools' geometry sanity check (images from other tools often fail it) and ignore any
// user configuration.
const MTOOLS_ENV = { MTOOLS_SKIP_CHECK: '1', MTOOLSRC: '/dev/null' }

function drive(opts: FatReadOptions): string {
  return `${toolImage(opts.image).name}@@${opts.offset}`
}

/** FAT compares names case-insensitively. */
function key(p: string): string {
  return p.toUpperCase()
}

async function mtool(opts: FatReadOptions, tool: string, args: string[]): Promise<ToolResult> {
  return runTool(tool, args, { env: { ...process.env, ...MTOOLS_ENV }, cwd: toolImage(opts.image).cwd })
}

function failure(opts: FatReadOptions, tool: string, result: ToolResult, stage: string, extra: string[] = []): Error {
  const text = [...lines(result.stderr), ...extra].slice(0, 5).join('; ') || `exit code ${result.code}`
  if (/Disk full|No free space|No space left/i.test(text)) {
    return new OutputError(
      `Device ${opts.serial}: ${opts.partition} is too full for the credentials (${tool}: ${text}). Free space in that file system or make the partition larger in the base image.`,
      {
        input: 'partition',
        serial: opts.serial,
        file: opts.image
      }
    )
  }
  if (/Can't open|Cannot initialize|init: |not a FAT|Bad/i.test(text) && stage === 'listing') {
    return new ImageError(`mtools cannot open the FAT file system in ${opts.partition} of ${opts.image}: ${text}`, { file: opts.image })
  }
  return new ToolError(`${tool} failed while ${stage} for device ${opts.serial} in ${opts.partition}: ${text}`, { serial: opts.serial })
}

async function probe(opts: FatWriteOptions, paths: string[], cache: Map<string, DirState>): Promise<void> {
  const wanted = paths.filter((p) => !cache.has(key(p)))
  if (wanted.length === 0) return
  // A path's state is read from its parent's listing; list every parent in one mdir run.
  const parents = [...new Set(wanted.map((p) => path.posix.dirname(p)))]
  const { listed } = await listFat(opts, parents)
  for (const p of wanted) cache.set(key(p), listed.get(key(p))?.state ?? { kind: 'missing' })
}

/**
 * List `dirs` with one `mdir -b -a` run: every entry found, by upper-cased path (its state and
 * its path as stored), and the directories that are not there.
 */
export async function listFat(opts: FatReadOptions, dirs: readonly string[]): Promise<{ listed: Map<string, { state: DirState; path: string }>; missing: Set<string> }> {
  const result = await mtool(opts, 'mdir', ['-b', '-a', '-i', drive(opts), ...dirs.map((p) => `::${p}`)])
  const notFound = /File "::(.*)" not found/
  const other = lines(result.stderr).filter((l) => !notFound.test(l))
  if (other.length > 0) throw failure(opts, 'mdir', result, 'listing')
  const missing = new Set(
    lines(result.stderr)
      .map((l) => notFound.exec(l)?.[1])
      .filter((d): d is string => d !== undefined)
      .map(key)
  )
  const listed = new Map<string, { state: DirState; path: string }>()
  for (const line of lines(result.stdout.toString('latin1'))) {
    if (!line.startsWith('::/')) continue
    const isDir = line.endsWith('/')
    const p = line.slice(2, isDir ? -1 : undefined)
    listed.set(key(p), { state: { kind: isDir ? 'dir' : 'file' }, path: p })
  }
  return { listed, missing }
}

/**
 * Copy `paths` (all in one directory) out of the FAT file system into `backDir` with one
 * `mcopy -n`, and return their bytes (null for one that did not arrive). Shared by the writer's
 * read-back and `credbake verify`. mcopy creates host files 0666 minus the umask and one is the
 * device key: they are pre-created 0600 (mcopy -n truncates an existing file and keeps its mode).
 */
export async function copyOutFat(opts: FatReadOptions, paths: readonly string[], backDir: string, stage = 'reading back'): Promise<Array<Buffer | null>> {
  await Promise.all(paths.map((p) => writeFile(path.join(backDir, path.posix.basename(p)), '', { mode: 0o600 })))
  const back = await mtool(opts, 'mcopy', ['-n', '-i', drive(opts), ...paths.map((p) => `::${p}`), `${backDir}/`])
  if (back.code !== 0 || lines(back.stderr).length > 0) throw failure(opts, 'mcopy', back, stage)
  const bytes: Array<Buffer | null> = []
  for (const p of paths) bytes.push(await readFile(path.join(backDir, path.posix.basename(p))).catch(() => null))
  return bytes
}

/** Where to read: a FAT file system at `offset` of `image`, `partition` naming it in messages. */
export type FatReadOptions = Pick<FatWriteOptions, 'image' | 'offset' | 'serial' | 'partition'>

/**
 * Read `paths` (bytes; null when absent) and list the names in `dirs` (null for a directory that
 * is not there) from a FAT file system, read-only. Used by `credbake verify`.
 */
export async function readFatFiles(
  opts: FatReadOptions & { tempDir: string },
  paths: readonly string[],
  dirs: readonly string[] = []
): Promise<{ files: Array<Buffer | null>; listings: Map<string, string[] | null> }> {
  const parents = [...new Set(paths.map((p) => path.posix.dirname(p)))]
  const { listed, missing } = await listFat(opts, [...new Set([...parents, ...dirs])])
  const listings = new Map<string, string[] | null>()
  for (const dir of dirs) {
    if (missing.has(key(dir))) listings.set(dir, null)
    else
      listings.set(
        dir,
        [...listed.values()].filter((e) => key(path.posix.dirname(e.path)) === key(dir)).map((e) => path.posix.basename(e.path))
      )
  }
  const files: Array<Buffer | null> = paths.map(() => null)
  const work = await mkdtemp(path.join(opts.tempDir, 'mtools-'))
  try {
    let g = 0
    for (const dir of parents) {
      const present = paths.map((p, i) => ({ p, i })).filter(({ p }) => path.posix.dirname(p) === dir && listed.get(key(p))?.state.kind === 'file')
      if (present.length === 0) continue
      const backDir = path.join(work, `r${g++}`)
      await mkdir(backDir, { mode: 0o700 })
      const bytes = await copyOutFat(
        opts,
        present.map(({ p }) => p),
        backDir,
        'reading'
      )
      present.forEach(({ i }, n) => (files[i] = bytes[n] ?? null))
      await rm(backDir, { recursive: true, force: true })
    }
    return { files, listings }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/**
 * Write `files` into the FAT file system at `offset` of `image`: missing directories with mmd,
 * files with `mcopy -o` (replacing existing ones), then copy every file back out and compare.
 */
export async function writeFatFiles(opts: FatWriteOptions): Promise<InstalledFile[]> {
  checkDevicePaths(opts.files)
  for (const file of opts.files) {
    if (/[<>:|?*]/.test(file.path)) throw new ImageError(`${file.path} cannot be stored on FAT: names there cannot contain < > : | ? *.`, { input: 'credentials-dir' })
  }
  const work = await mkdtemp(path.join(opts.tempDir, 'mtools-'))
  try {
    const cache = opts.probeCache ?? new Map<string, DirState>()
    const dirs = ancestorDirs(opts.files.map((f) => f.path))
    await probe(opts, [...dirs, ...opts.files.map((f) => f.path)], cache)
    for (const dir of dirs) {
      if (cache.get(key(dir))!.kind === 'file')
        throw new ImageError(`${dir} exists in ${opts.partition} but is not a directory; choose another credentials directory.`, { input: 'credentials-dir', file: opts.image })
    }
    for (const file of opts.files) {
      if (cache.get(key(file.path))!.kind === 'dir')
        throw new ImageError(`${file.path} is a directory in ${opts.partition}; a credential file cannot replace it.`, { input: 'credentials-dir', file: opts.image })
    }

    const missing = dirs.filter((d) => cache.get(key(d))!.kind === 'missing')
    if (missing.length > 0) {
      const made = await mtool(opts, 'mmd', ['-i', drive(opts), ...missing.map((d) => `::${d}`)])
      if (made.code !== 0 || lines(made.stderr).length > 0) throw failure(opts, 'mmd', made, 'creating directories')
    }

    // One mcopy per target directory; host files carry the target names.
    const groups = new Map<string, Array<{ file: BundleFile; index: number }>>()
    opts.files.forEach((file, index) => {
      const dir = path.posix.dirname(file.path)
      groups.set(dir, [...(groups.get(dir) ?? []), { file, index }])
    })
    let g = 0
    for (const [dir, members] of groups) {
      const hostDir = path.join(work, `w${g++}`)
      await mkdir(hostDir, { mode: 0o700 })
      const hosts: string[] = []
      for (const { file } of members) {
        const host = path.join(hostDir, path.posix.basename(file.path))
        await writeFile(host, file.content, { mode: 0o600 })
        hosts.push(host)
      }
      const copied = await mtool(opts, 'mcopy', ['-o', '-D', 'o', '-i', drive(opts), ...hosts, `::${dir === '/' ? '' : dir}/`])
      await rm(hostDir, { recursive: true, force: true })
      if (copied.code !== 0 || lines(copied.stderr).length > 0) throw failure(opts, 'mcopy', copied, 'writing')
    }

    // Read back: one mcopy per directory into a fresh host folder.
    const installed: InstalledFile[] = new Array<InstalledFile>(opts.files.length)
    for (const members of groups.values()) {
      const backDir = path.join(work, `r${g++}`)
      await mkdir(backDir, { mode: 0o700 })
      const back = await copyOutFat(
        opts,
        members.map(({ file }) => file.path),
        backDir
      )
      for (const [n, { file, index }] of members.entries()) {
        const bytes = back[n] ?? null
        if (!bytes || !bytes.equals(file.content)) {
          throw new ToolError(
            `Device ${opts.serial}: read-back of ${file.path} from ${opts.partition} failed: the file is missing or differs. mtools reported success but the image does not hold what was written.`,
            { serial: opts.serial }
          )
        }
        installed[index] = { path: file.path, mode: null, owner: null, sha256: file.secret ? null : sha256Hex(file.content), size: file.content.length, secret: file.secret }
      }
      await rm(backDir, { recursive: true, force: true })
    }
    return installed
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
