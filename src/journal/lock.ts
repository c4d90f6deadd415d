// One writer per output-dir: a lock file made with O_EXCL, holding the owner's pid and host. A
// second bake fails at once; a lock left by a dead process (same host, pid gone) is taken over.
import { link, readFile, rm, rename, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { LockError, OutputError, messageOf } from '../errors.js'
import { tempSibling } from '../util/fsx.js'
import { processIsAlive } from '../util/process.js'

export const LOCK_FILE = 'credbake.lock'

interface LockOwner {
  pid: number
  host: string
  startedAt: string
}

export class OutputLock {
  private constructor(readonly file: string) {}

  static async acquire(outputDir: string): Promise<OutputLock> {
    const file = path.join(outputDir, LOCK_FILE)
    const me: LockOwner = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() }
    for (let attempt = 0; attempt < 3; attempt++) {
      // The owner is written to a temporary file first and linked into place, so the lock never
      // exists empty (another process reading it then would take it for stale).
      const draft = tempSibling(file)
      try {
        await writeFile(draft, `${JSON.stringify(me)}\n`, { mode: 0o644 })
        await link(draft, file)
        return new OutputLock(file)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        // ENOENT: the lock holder cleaned our draft away as a leftover temp file; try again.
        if (code === 'ENOENT') continue
        if (code !== 'EEXIST') {
          throw new OutputError(`Cannot create the lock ${file}: ${messageOf(error)}.`, { cause: error })
        }
      } finally {
        await rm(draft, { force: true })
      }
      const owner = await readOwner(file)
      if (owner && isAlive(owner)) {
        throw new LockError(
          `Another credbake run (pid ${owner.pid} on ${owner.host}, since ${owner.startedAt}) is baking into output-dir ${outputDir}. Wait for it, or use another output-dir. If no such process exists, delete ${file}.`
        )
      }
      await takeOverStale(file, owner)
    }
    throw new LockError(`Could not take the lock ${file}; another process keeps taking it. Retry.`)
  }

  async release(): Promise<void> {
    await rm(this.file, { force: true })
  }
}

async function readOwner(file: string): Promise<LockOwner | undefined> {
  try {
    const owner = JSON.parse(await readFile(file, 'utf8')) as LockOwner
    return typeof owner.pid === 'number' ? owner : undefined
  } catch {
    // Unreadable or torn (the owner died while writing it): stale.
    return undefined
  }
}

function isAlive(owner: LockOwner): boolean {
  // A lock from another host (a shared file system) cannot be checked: assume it is held.
  if (owner.host !== os.hostname()) return true
  return processIsAlive(owner.pid)
}

/**
 * Move a stale lock aside (rename is atomic, so of two processes taking it over only one moves
 * it). If what was moved turns out to be a fresh lock another process just took, put it back.
 */
async function takeOverStale(file: string, stale: LockOwner | undefined): Promise<void> {
  const aside = tempSibling(file)
  try {
    await rename(file, aside)
  } catch {
    return // gone already: someone else took it over; retry the create
  }
  const moved = await readOwner(aside)
  const same = moved?.pid === stale?.pid && moved?.startedAt === stale?.startedAt
  if (!same && moved && isAlive(moved)) await link(aside, file).catch(() => {})
  await rm(aside, { force: true })
}
