// Sink "dir": output-dir/devices/SERIAL/<device paths>, modes applied, built under a temporary
// name and renamed into place only when complete. The tree is what `cp -a`/rsync puts on the
// device, so its modes are the bundle's whatever the umask: folders 0755 (SERIAL/ itself stands
// for the root file system), files as the layout says (keys 0600, created so).
import { chmod, chown, mkdir, open, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import type { BundleFile } from '../bundle/types.js'
import type { Device } from '../manifest/types.js'
import { tempSibling } from '../util/fsx.js'
import { describeFiles, treeDigest, treeDigestOnDisk } from './files.js'
import { wrapWriteError } from './errors.js'
import type { Sink, SinkOutput, WriteHooks } from './types.js'

export class DirSink implements Sink {
  readonly format = 'dir'
  private readonly root: string

  constructor(private readonly outputDir: string) {
    this.root = path.join(outputDir, 'devices')
  }

  async write(device: Device, files: BundleFile[], hooks: WriteHooks = {}): Promise<SinkOutput> {
    const target = path.join(this.root, device.serial)
    const temp = tempSibling(target)
    await hooks.beforeKeyWritten?.()
    try {
      await mkdir(this.root, { recursive: true, mode: 0o755 })
      await makeFolder(temp)
      const made = new Set<string>([temp])
      for (const file of files) await writeOne(temp, file, made)
      await rm(target, { recursive: true, force: true })
      await rename(temp, target)
    } catch (error) {
      await rm(temp, { recursive: true, force: true })
      throw wrapWriteError(error, device, target)
    }
    return {
      path: path.relative(this.outputDir, target).split(path.sep).join('/'),
      size: files.reduce((sum, file) => sum + file.content.length, 0),
      sha256: treeDigest(files),
      files: describeFiles(files, { modes: true, owners: true })
    }
  }

  async verify(output: { path: string; sha256: string }): Promise<boolean> {
    try {
      return (await treeDigestOnDisk(path.join(this.outputDir, output.path))) === output.sha256
    } catch {
      return false
    }
  }

  async close(): Promise<void> {}
}

/** A new folder of the tree, 0755 whatever the umask (which would narrow it to 0700 under 077). */
async function makeFolder(folder: string): Promise<void> {
  await mkdir(folder, { mode: 0o755 })
  await chmod(folder, 0o755)
}

async function writeOne(root: string, file: BundleFile, made: Set<string>): Promise<void> {
  const parts = file.path.split('/').filter(Boolean)
  const destination = path.join(root, ...parts)
  let folder = root
  for (const part of parts.slice(0, -1)) {
    folder = path.join(folder, part)
    if (made.has(folder)) continue
    await makeFolder(folder)
    made.add(folder)
  }
  // Create with the final mode so a key is never readable by others, even for a moment.
  const handle = await open(destination, 'wx', file.mode)
  try {
    await handle.writeFile(file.content)
    await handle.chmod(file.mode) // umask may have narrowed the mode given to open
  } finally {
    await handle.close()
  }
  // Only root can give files to uid 0; others get a tree to copy with `cp -a`/rsync as root.
  if (process.getuid?.() === 0) await chown(destination, file.uid, file.gid)
}

