// output-dir is a trust boundary (docs/output-dir-boundary.md). Other jobs, restored caches and
// downloaded artifacts put things there, so credbake never reaches anything in it through a
// symbolic link, and every path it reads from a journal or a manifest must name an output inside
// it before it is touched. The checks, shared by bake, merge, the sinks and the journal:
// - outputPathProblem: a recorded output path is FOLDER/NAME, nothing else;
// - realFolder / ensureFolder(Sync): a folder on the way is a real folder, never a link;
// - checkTrustedFolder: a folder credbake writes in is its user's and writable by nobody else;
// - O_NOFOLLOW for files opened in place (the journal, the lock).
import { constants, lstatSync, mkdirSync, readlinkSync, type Stats } from 'node:fs'
import { chmod, lstat, mkdir } from 'node:fs/promises'
import path from 'node:path'
import { OutputError } from '../errors.js'

/** open(2) flag: fail with ELOOP when the last component is a symbolic link (0 where there is none). */
export const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0

/**
 * Why `relative` cannot be the recorded path of an output inside output-dir, or undefined when it
 * can: it must be FOLDER/NAME, FOLDER one of `folders` (the formats' folders: OUTPUT_FOLDERS in src/formats/registry.ts),
 * NAME a plain file name (no "/" or NUL, not "." or ".."), and, when `serial` is given, NAME is the
 * serial or starts with "SERIAL." (the names credbake gives outputs and bmaps). A backslash is an
 * ordinary character of a POSIX file name (never a separator here), so it is not refused.
 */
export function outputPathProblem(relative: unknown, folders: readonly string[], serial?: string): string | undefined {
  if (typeof relative !== 'string' || relative === '') return 'it is empty'
  if (relative.includes('\0')) return 'it holds a NUL'
  if (relative.startsWith('/')) return 'it is absolute'
  const parts = relative.split('/')
  if (parts.includes('..')) return 'it has a ".." part'
  if (parts.length !== 2 || parts.some((part) => part === '' || part === '.')) return 'it is not FOLDER/NAME'
  const [folder, name] = parts as [string, string]
  if (!folders.includes(folder)) return `it is not in ${folders.map((known) => `${known}/`).join(', ')}`
  if (serial !== undefined && name !== serial && !name.startsWith(`${serial}.`)) return `its name is not the device's serial ${serial}`
  return undefined
}

/** The message for a symbolic link found where credbake reads, writes or removes something. */
export function plantedLinkError(file: string): OutputError {
  let target = ''
  try {
    target = ` (to ${readlinkSync(file)})`
  } catch {
    // gone meanwhile, or unreadable: name the link alone
  }
  return new OutputError(
    `${file} is a symbolic link${target}: credbake never follows links inside output-dir, where another job could have planted one to make it read, overwrite or remove files elsewhere. Remove it (credbake never makes one), or use a new output-dir.`,
    { file }
  )
}

function notFolderError(folder: string): OutputError {
  return new OutputError(`${folder} is not a folder: credbake writes its outputs into a folder of that name. Move it aside, or use a new output-dir.`, { file: folder })
}

/** `folder` as it is: undefined when absent, its lstat when a real folder; a link or a file is refused. */
export async function realFolder(folder: string): Promise<Stats | undefined> {
  let info: Stats
  try {
    info = await lstat(folder)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  if (info.isSymbolicLink()) throw plantedLinkError(folder)
  if (!info.isDirectory()) throw notFolderError(folder)
  return info
}

/** `folder` (whose parent is a checked folder) made when missing (0755) and checked to be a real folder. */
export async function ensureFolder(folder: string): Promise<void> {
  await mkdir(folder, { mode: 0o755 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error
  })
  await realFolder(folder)
}

/** ensureFolder for worker threads writing outputs synchronously. */
export function ensureFolderSync(folder: string): void {
  try {
    mkdirSync(folder, { mode: 0o755 })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  const info = lstatSync(folder)
  if (info.isSymbolicLink()) throw plantedLinkError(folder)
  if (!info.isDirectory()) throw notFolderError(folder)
}

/**
 * Each folder between `root` and `relative`'s last part is a real folder (or missing): the way to
 * a recorded output never passes a link. `seen` caches folders already checked in this run.
 */
export async function checkWay(root: string, relative: string, seen?: Set<string>): Promise<void> {
  const parts = relative.split('/').slice(0, -1)
  let folder = root
  for (const part of parts) {
    folder = path.join(folder, part)
    if (seen?.has(folder)) continue
    await realFolder(folder)
    seen?.add(folder)
  }
}

/**
 * A folder credbake writes in must belong to its user and be writable by nobody else, or someone
 * else could plant links in it while credbake runs. Group or other write permission on a folder of
 * its own is taken away, with a warning; a folder of another user, or a shared one (the sticky
 * bit, as /tmp), is refused.
 */
export async function checkTrustedFolder(folder: string, info: Stats, warn: (message: string) => void, what = folder): Promise<void> {
  const uid = process.geteuid?.()
  if (uid !== undefined && info.uid !== uid) {
    throw new OutputError(
      `${what} belongs to user ${info.uid}, not to the user credbake runs as (${uid}): that user could plant links in it while credbake works there. Use a folder of your own (or chown it).`,
      { file: folder }
    )
  }
  const mode = info.mode & 0o7777
  if ((mode & 0o022) === 0) return
  if (mode & 0o1000) {
    throw new OutputError(
      `${what} is a shared folder (mode ${mode.toString(8).padStart(4, '0')}, sticky): anyone could plant links in it while credbake works there. Use a folder of its own inside it.`,
      { file: folder }
    )
  }
  const narrowed = mode & ~0o022
  await chmod(folder, narrowed)
  warn(
    `${what} was writable by ${mode & 0o020 ? (mode & 0o002 ? 'its group and others' : 'its group') : 'others'} (mode ${mode.toString(8).padStart(4, '0')}): narrowed to ${narrowed.toString(8).padStart(4, '0')}, so that nobody else can plant links in it while credbake works there.`
  )
}
