// The only place secrets touch the disk outside outputs: one 0700 folder under RUNNER_TEMP (the
// OS temp dir locally), files 0600, removed in `finally`. A run killed with SIGKILL never reaches
// `finally`, so folders carry their owner's pid and later runs remove those of dead owners.
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { processIsAlive } from './process.js'

const PREFIX = 'credbake-'

export class SecretTemp {
  private constructor(readonly dir: string) {}

  static async create(root: string): Promise<SecretTemp> {
    await reclaimAbandoned(root)
    const dir = await mkdtemp(path.join(root, `${PREFIX}${process.pid}-`))
    await chmod(dir, 0o700)
    return new SecretTemp(dir)
  }

  /** Write `content` to a 0600 file in the folder and return its path. */
  async file(name: string, content: Buffer | string): Promise<string> {
    const file = path.join(this.dir, name)
    await writeFile(file, content, { mode: 0o600 })
    return file
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true })
  }
}

/** Remove secret folders left by credbake processes that no longer exist on this machine. */
async function reclaimAbandoned(root: string): Promise<void> {
  let names: string[]
  try {
    names = await readdir(root)
  } catch {
    return
  }
  for (const name of names) {
    const match = new RegExp(`^${PREFIX}(\\d+)-`).exec(name)
    if (!match || processIsAlive(Number(match[1]))) continue
    await rm(path.join(root, name), { recursive: true, force: true }).catch(() => undefined)
  }
}
