// Output directory checks done before any key exists: it can be created and written.
import { access, constants, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { OutputError, messageOf } from '../errors.js'

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

export async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0
  } catch {
    return true
  }
}
