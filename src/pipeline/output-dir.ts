// Output directory checks done before any key exists, and clean-up of what a killed run left.
// output-dir is a trust boundary (docs/output-dir-boundary.md): it is a real folder of this user
// that nobody else can write in, and no name credbake uses in it is a symbolic link.
import { constants } from 'node:fs'
import { access, lstat, mkdir, readdir, readlink, rm, rmdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { OutputError, isCredbakeError, messageOf } from '../errors.js'
import { JOURNAL_FILE } from '../journal/journal.js'
import { LOCK_FILE } from '../journal/lock.js'
import { OUTPUT_FOLDERS } from '../formats/registry.js'
import { exportFiles, exportFolders } from '../exports/registry.js'
import { CRL_DER_FILE, CRL_PEM_FILE, MANIFEST_FILE } from '../shapes/review.js'
import { checkTrustedFolder, plantedLinkError, realFolder } from '../util/confined.js'
import { TEMP_MARKER, tempSibling } from '../util/fsx.js'

/** Files credbake reads, writes or replaces in output-dir (besides the outputs). */
export const OUTPUT_DIR_FILES = [JOURNAL_FILE, LOCK_FILE, MANIFEST_FILE, CRL_PEM_FILE, CRL_DER_FILE, ...exportFiles()]

/** The folders of output-dir credbake writes in: the formats' output folders and the exports' (exports/). */
export const OUTPUT_DIR_FOLDERS = [...OUTPUT_FOLDERS, ...exportFolders()]

/**
 * Make output-dir when missing and check it and what credbake uses in it: a real folder (not a
 * link), this user's and writable by nobody else (group or other write permission is taken away
 * with a warning), none of its files and output folders a link; and writable.
 */
export async function prepareOutputDir(outputDir: string, warn: (message: string) => void = () => {}): Promise<void> {
  const input = `output-dir ${outputDir}`
  try {
    let info = await lstat(outputDir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined
      throw error
    })
    if (!info) {
      // Never writable by others, even under umask 000: they could replace outputs or the manifest.
      await mkdir(outputDir, { recursive: true, mode: 0o755 })
      info = await lstat(outputDir)
    }
    if (info.isSymbolicLink()) {
      const target = await readlink(outputDir).catch(() => '?')
      throw new OutputError(
        `Input "output-dir" (${outputDir}) is a symbolic link (to ${target}): credbake works only in a real folder, since a link there may have been planted by another job to send device keys elsewhere. Give the folder's own path instead.`,
        { file: outputDir }
      )
    }
    if (!info.isDirectory()) throw new OutputError(`Input "output-dir" (${outputDir}) is not a folder.`, { file: outputDir })
    await checkTrustedFolder(outputDir, info, warn, input)
    // The folders first: a file in exports/ is looked at only once exports/ is known to be a real folder.
    for (const folder of OUTPUT_DIR_FOLDERS) {
      const found = await realFolder(path.join(outputDir, folder))
      if (found) await checkTrustedFolder(path.join(outputDir, folder), found, warn)
    }
    for (const name of OUTPUT_DIR_FILES) {
      const file = path.join(outputDir, name)
      const entry = await lstat(file).catch(() => undefined)
      if (entry?.isSymbolicLink()) throw plantedLinkError(file)
      if (entry && !entry.isFile()) {
        throw new OutputError(`${file} is not a regular file: credbake reads, replaces or removes a file of that name. Move it aside, or use a new output-dir.`, { file })
      }
    }
    await access(outputDir, constants.W_OK | constants.X_OK)
    // access() trusts mode bits; a read-only mount or an ACL only shows on a real write. A
    // temporary name, so that a probe left by a killed run is cleaned up like any temp file; the
    // message names the folder, not the probe, which is gone.
    const probe = tempSibling(path.join(outputDir, 'credbake-probe'))
    await writeFile(probe, '', { mode: 0o600, flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
      throw new Error(error.code ? `writing a file in it fails (${error.code})` : messageOf(error), { cause: error })
    })
    // force: a run that holds the lock may have cleaned temporary files up meanwhile, this probe
    // among them (four bakes started at once: the losers must still fail on the lock, exit 6).
    await rm(probe, { force: true })
  } catch (error) {
    if (isCredbakeError(error)) throw error
    throw new OutputError(`Input "output-dir" (${outputDir}) is not a writable folder: ${messageOf(error)}.`, { cause: error })
  }
}

/** Anything in output-dir but our own lock. */
export async function hasPriorOutputs(outputDir: string): Promise<boolean> {
  const names = await readdir(outputDir)
  return names.some((name) => name !== LOCK_FILE)
}

/**
 * Temporary files of a killed run (".NAME.tmp-PID-RANDOM", never renamed into place). Only
 * called while holding the lock, so none of them belongs to a live run. The folders are checked
 * on the way (a link among them is refused): removal never reaches outside output-dir.
 */
export async function removeLeftoverTemps(outputDir: string): Promise<number> {
  let removed = 0
  for (const folder of ['.', ...OUTPUT_DIR_FOLDERS]) {
    const dir = path.join(outputDir, folder)
    if (folder !== '.' && !(await realFolder(dir))) continue
    let names: string[]
    try {
      names = await readdir(dir)
    } catch {
      continue
    }
    for (const name of names) {
      // Also probes named by versions before the probe used a temporary name.
      if (name.startsWith('.') && (name.includes(TEMP_MARKER) || name.startsWith('.credbake-probe-'))) {
        // rm never follows a link, neither the entry itself nor anything inside a folder.
        await rm(path.join(dir, name), { recursive: true, force: true })
        removed++
      }
    }
  }
  return removed
}

/**
 * Remove the review manifest and every file a review export may have written (rebuilt from the
 * journal at the end): the registration files of an earlier run that named exports go too, so a
 * run without them leaves none behind, and an export folder left empty is removed. Each export
 * folder is checked to be a real folder first: removal never reaches through a link.
 */
export async function removeReview(outputDir: string): Promise<void> {
  for (const folder of exportFolders()) await realFolder(path.join(outputDir, folder))
  for (const name of [MANIFEST_FILE, ...exportFiles()]) await rm(path.join(outputDir, name), { force: true })
  for (const folder of exportFolders()) await rmdir(path.join(outputDir, folder)).catch(() => undefined)
}
