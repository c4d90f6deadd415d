// Output directory checks done before any key exists, and clean-up of what a killed run left.
import { access, constants, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { OutputError, messageOf } from '../errors.js'
import { LOCK_FILE } from '../journal/lock.js'
import { TEMP_MARKER } from '../util/fsx.js'

/** Folders of output-dir that hold per-device outputs (one per format). */
export const OUTPUT_FOLDERS = ['devices', 'overlays', 'images', 'partitions'] as const

export async function prepareOutputDir(outputDir: string): Promise<void> {
  try {
    await mkdir(outputDir, { recursive: true })
    await access(outputDir, constants.W_OK | constants.X_OK)
    // access() trusts mode bits; a read-only mount or an ACL only shows on a real write.
    const probe = path.join(outputDir, `.credbake-probe-${process.pid}`)
    await writeFile(probe, '')
    await rm(probe)
  } catch (error) {
    throw new OutputError(`Input "output-dir" (${outputDir}) is not a writable folder: ${messageOf(error)}.`, {
      cause: error
    })
  }
}

/** Anything in output-dir but our own lock. */
export async function hasPriorOutputs(outputDir: string): Promise<boolean> {
  const names = await readdir(outputDir)
  return names.some((name) => name !== LOCK_FILE)
}

/**
 * Temporary files of a killed run (".NAME.tmp-PID-RANDOM", never renamed into place). Only
 * called while holding the lock, so none of them belongs to a live run.
 */
export async function removeLeftoverTemps(outputDir: string): Promise<number> {
  let removed = 0
  for (const folder of ['.', ...OUTPUT_FOLDERS]) {
    const dir = path.join(outputDir, folder)
    let names: string[]
    try {
      names = await readdir(dir)
    } catch {
      continue
    }
    for (const name of names) {
      if (name.startsWith('.') && name.includes(TEMP_MARKER)) {
        await rm(path.join(dir, name), { recursive: true, force: true })
        removed++
      }
    }
  }
  return removed
}
