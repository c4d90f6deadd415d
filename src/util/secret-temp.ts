// The only place secrets touch the disk outside outputs: one 0700 folder under RUNNER_TEMP (the
// OS temp dir locally), files 0600, removed in `finally`, and synchronously on a stop at once (a
// second SIGINT/SIGTERM/SIGHUP) or any other exit that skips `finally` (src/util/cancel.ts). A run
// killed with SIGKILL never gets there, so folders carry their owner's pid and start time
// (credbake-PID-tSTART-RANDOM) and later runs remove those whose owner no longer runs.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { releaseAtExit } from './cancel.js'
import { identityIsLive, ownIdentity } from './process.js'

const PREFIX = 'credbake-'
/** credbake-PID-tSTART-… (this version) or credbake-PID-… (before start times were recorded). */
const NAME = /^credbake-(\d+)-(?:t(\d+)-)?/

export class SecretTemp {
  private readonly unregister: () => void

  private constructor(readonly dir: string) {
    this.unregister = releaseAtExit('the secret temp folder', () => rmSync(dir, { recursive: true, force: true }))
  }

  static async create(root: string): Promise<SecretTemp> {
    await reclaimAbandoned(root)
    const me = ownIdentity()
    // Made and registered for removal in one synchronous step: a signal handled between an awaited
    // mkdtemp and the registration found nothing to release and left the folder behind.
    const dir = mkdtempSync(path.join(root, `${PREFIX}${me.pid}-${me.processStart !== undefined ? `t${me.processStart}-` : ''}`))
    chmodSync(dir, 0o700)
    return new SecretTemp(dir)
  }

  /** Write `content` to a 0600 file in the folder and return its path. */
  async file(name: string, content: Buffer | string): Promise<string> {
    const file = path.join(this.dir, name)
    await writeFile(file, content, { mode: 0o600, flag: 'wx' })
    return file
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true })
    this.unregister()
  }
}

/** Remove secret folders left by credbake processes that no longer run on this machine. */
async function reclaimAbandoned(root: string): Promise<void> {
  let names: string[]
  try {
    names = await readdir(root)
  } catch {
    return
  }
  const me = ownIdentity()
  for (const name of names) {
    const match = NAME.exec(name)
    if (!match) continue
    const owner = { pid: Number(match[1]), host: me.host, ...(match[2] !== undefined ? { processStart: Number(match[2]) } : {}) }
    if (identityIsLive(owner).live) continue
    await rm(path.join(root, name), { recursive: true, force: true }).catch(() => undefined)
  }
}
