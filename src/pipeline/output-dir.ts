// Output directory checks done before any key exists, and clean-up of what a killed run left.
import { access, constants, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { OutputError, messageOf } from '../errors.js'
import { LOCK_FILE } from '../journal/lock.js'
import { FORMAT_SPECS } from '../settings/types.js'
import { CERTIFICATES_FILE, MANIFEST_FILE, SUPERSEDED_FILE } from '../review/types.js'
import { SHA256SUMS_FILE } from '../review/sha256sums.js'
import { TEMP_MARKER, tempSibling } from '../util/fsx.js'

/** Folders of output-dir that hold per-device outputs (one per format). */
export const OUTPUT_FOLDERS = Object.values(FORMAT_SPECS).map((spec) => spec.folder)

export async function prepareOutputDir(outputDir: string): Promise<void> {
  try {
    // Never writable by others, even under umask 000: they could replace outputs or the manifest.
    await mkdir(outputDir, { recursive: true, mode: 0o755 })
    await access(outputDir, constants.W_OK | constants.X_OK)
    // access() trusts mode bits; a read-only mount or an ACL only shows on a real write.
    // A temporary name, so that a probe left by a killed run is cleaned up like any temp file.
    const probe = tempSibling(path.join(outputDir, 'credbake-probe'))
    await writeFile(probe, '', { mode: 0o600 })
    // force: a run that holds the lock may have cleaned temporary files up meanwhile, this probe
    // among them (four bakes started at once: the losers must still fail on the lock, exit 6).
    await rm(probe, { force: true })
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
      // Also probes named by versions before the probe used a temporary name.
      if (name.startsWith('.') && (name.includes(TEMP_MARKER) || name.startsWith('.credbake-probe-'))) {
        await rm(path.join(dir, name), { recursive: true, force: true })
        removed++
      }
    }
  }
  return removed
}

/** Remove the review manifest and certificate bundles (rebuilt from the journal at the end). */
export async function removeReview(outputDir: string): Promise<void> {
  for (const name of [MANIFEST_FILE, CERTIFICATES_FILE, SUPERSEDED_FILE, SHA256SUMS_FILE]) await rm(path.join(outputDir, name), { force: true })
}
