// One writer per output-dir (a bake, or a merge into its folder): a lock file made with link(2),
// which never follows a link and fails when the name exists, holding the owner's pid, host,
// start time (field 22 of /proc/PID/stat) and boot id. A second run fails at once (LockError,
// exit 6). The lock is live only while that very process runs: same boot, the pid in use by a
// process started at the recorded time, not a zombie. Anything else (a dead owner, a pid the
// kernel gave to another process since, a reboot, a torn file) is stale and taken over with a
// warning naming the old owner.
import { closeSync, constants, fstatSync, openSync, readSync, unlinkSync } from 'node:fs'
import { link, open, rm, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { LockError, OutputError, messageOf } from '../errors.js'
import { releaseAtExit } from '../util/cancel.js'
import { O_NOFOLLOW, plantedLinkError } from '../util/confined.js'
import { tempSibling } from '../util/fsx.js'
import { identityIsLive, ownIdentity, type ProcessIdentity } from '../util/process.js'

export const LOCK_FILE = 'credbake.lock'

/** What the lock file holds (one JSON line). */
export interface LockOwner extends ProcessIdentity {
  /** ISO time the lock was taken, for messages. */
  startedAt: string
}

/** A lock file is a line of JSON: anything longer was not written by credbake. */
const MAX_LOCK_BYTES = 4096

export interface LockOptions {
  /** Told when a stale lock is taken over (the message names its old owner). */
  warn?: (message: string) => void
  /** What holds output-dir, for the message a second run gets: "baking into" or "merging into". */
  doing?: string
}

export class OutputLock {
  private readonly unregister: () => void

  private constructor(
    readonly file: string,
    private readonly owner: LockOwner
  ) {
    // A stop at once (a second signal) releases the lock synchronously, if it is still ours.
    this.unregister = releaseAtExit('the lock', () => {
      if (sameOwner(readOwnerSync(file), owner)) unlinkSync(file)
    })
  }

  static async acquire(outputDir: string, options: LockOptions = {}): Promise<OutputLock> {
    const file = path.join(outputDir, LOCK_FILE)
    const me: LockOwner = { ...ownIdentity(), startedAt: new Date().toISOString() }
    for (let attempt = 0; attempt < 3; attempt++) {
      // The owner is written to a temporary file first and linked into place, so the lock never
      // exists empty (another process reading it then would take it for stale).
      const draft = tempSibling(file)
      try {
        await writeFile(draft, `${JSON.stringify(me)}\n`, { mode: 0o644, flag: 'wx' })
        await link(draft, file)
        return new OutputLock(file, me)
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
      const found = await readOwner(file)
      if (found.kind === 'link') throw plantedLinkError(file)
      if (found.kind === 'strange') {
        throw new OutputError(`The lock ${file} is not a regular file (credbake makes it a file of one line): remove it, or use a new output-dir.`, { file })
      }
      if (found.kind === 'gone') continue
      if (found.kind === 'owner') {
        const state = identityIsLive(found.owner)
        if (state.live) {
          throw new LockError(
            `Another credbake run (${describeOwner(found.owner)}) is ${options.doing ?? 'baking into'} output-dir ${outputDir}. Wait for it, or use another output-dir. If no such process exists, delete ${file}.`
          )
        }
        if (await takeOverStale(file, found.owner)) {
          options.warn?.(
            `Took over the stale lock ${file} of credbake ${describeOwner(found.owner)}: ${state.why}. That run ended without releasing it; the journal tells what it finished.`
          )
        }
      } else if (await takeOverStale(file, undefined)) {
        options.warn?.(`Took over the lock ${file}, which names no owner (${found.why}): its writer died while taking it.`)
      }
    }
    throw new LockError(`Could not take the lock ${file}; another process keeps taking it. Retry.`)
  }

  /** Remove the lock, if it is still this run's (a lock another run took over stays). */
  async release(): Promise<void> {
    const found = await readOwner(this.file)
    if (found.kind === 'owner' && sameOwner(found.owner, this.owner)) await rm(this.file, { force: true })
    this.unregister()
  }
}

function describeOwner(owner: LockOwner): string {
  return `pid ${owner.pid} on ${owner.host}, since ${owner.startedAt}`
}

function sameOwner(a: LockOwner | undefined, b: LockOwner | undefined): boolean {
  return a !== undefined && b !== undefined && a.pid === b.pid && a.host === b.host && a.startedAt === b.startedAt && a.processStart === b.processStart
}

type Found = { kind: 'owner'; owner: LockOwner } | { kind: 'unreadable'; why: string } | { kind: 'gone' } | { kind: 'link' } | { kind: 'strange' }

/** The lock file's owner, read without following a link and never more than MAX_LOCK_BYTES. */
export async function readOwner(file: string): Promise<Found> {
  let text: string
  try {
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | O_NOFOLLOW)
    try {
      if (!(await handle.stat()).isFile()) return { kind: 'strange' }
      const buffer = Buffer.alloc(MAX_LOCK_BYTES)
      const { bytesRead } = await handle.read(buffer, 0, MAX_LOCK_BYTES, 0)
      text = buffer.toString('utf8', 0, bytesRead)
    } finally {
      await handle.close()
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { kind: 'gone' }
    if (code === 'ELOOP') return { kind: 'link' }
    return { kind: 'unreadable', why: messageOf(error) }
  }
  return parseOwner(text)
}

function parseOwner(text: string): Found {
  try {
    const owner = JSON.parse(text) as LockOwner
    // Torn (the owner died while writing it) or not credbake's: stale.
    if (typeof owner?.pid !== 'number' || typeof owner.host !== 'string') return { kind: 'unreadable', why: 'no pid and host in it' }
    return { kind: 'owner', owner: { ...owner, startedAt: String(owner.startedAt) } }
  } catch {
    return { kind: 'unreadable', why: 'it is not a whole line of JSON' }
  }
}

function readOwnerSync(file: string): LockOwner | undefined {
  let fd: number
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | O_NOFOLLOW)
  } catch {
    return undefined
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined
    const buffer = Buffer.alloc(MAX_LOCK_BYTES)
    const found = parseOwner(buffer.toString('utf8', 0, readSync(fd, buffer, 0, MAX_LOCK_BYTES, 0)))
    return found.kind === 'owner' ? found.owner : undefined
  } finally {
    closeSync(fd)
  }
}

/**
 * Move a stale lock aside (rename is atomic and never follows a link, so of two processes taking
 * it over only one moves it). If what was moved turns out to be a fresh lock another process just
 * took, put it back. True when this process took the stale lock away.
 */
async function takeOverStale(file: string, stale: LockOwner | undefined): Promise<boolean> {
  const aside = tempSibling(file)
  try {
    await rename(file, aside)
  } catch {
    return false // gone already: someone else took it over; retry the create
  }
  const found = await readOwner(aside)
  const moved = found.kind === 'owner' ? found.owner : undefined
  const same = stale === undefined ? moved === undefined : sameOwner(moved, stale)
  if (!same && moved && identityIsLive(moved).live) {
    await link(aside, file).catch(() => {})
    await rm(aside, { force: true })
    return false
  }
  await rm(aside, { force: true })
  return true
}
