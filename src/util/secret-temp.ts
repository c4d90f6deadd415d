// The only place secrets touch the disk outside outputs: one 0700 folder under RUNNER_TEMP (the
// OS temp dir locally), files 0600, removed in `finally` whatever happens.
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises'
import path from 'node:path'

export class SecretTemp {
  private constructor(readonly dir: string) {}

  static async create(root: string): Promise<SecretTemp> {
    const dir = await mkdtemp(path.join(root, 'credbake-'))
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
