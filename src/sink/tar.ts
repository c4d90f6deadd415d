// Sink "tar": output-dir/overlays/SERIAL.tar.gz, an overlay to extract over the root file system
// (`tar -xzpf SERIAL.tar.gz -C /mnt/rootfs`). Entries carry the device paths (relative), modes,
// uid/gid 0 and a directory entry for every parent, so extraction as root yields the right tree.
import { closeSync, fchmodSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { pack as createTarPack } from 'tar-stream'
import type { BundleFile } from '../bundle/types.js'
import type { Device } from '../manifest/types.js'
import { tempSibling } from '../util/fsx.js'
import { sha256Hex } from '../util/hash.js'
import { wrapWriteError } from './errors.js'
import { describeFiles, fileMatches } from './files.js'
import type { Sink, SinkOutput, WriteHooks } from './types.js'

/** Allocated bytes of one overlay (measured: 4,135 bytes of file in one 4 KiB block, rounded). */
const OVERLAY_BYTES = 8 * 1024

export class TarSink implements Sink {
  readonly format = 'tar'
  readonly space = { bytesPerOutput: OVERLAY_BYTES, basis: 'an overlay of a few KiB' }
  private readonly root: string
  private rootReady = false

  /** `mtime` is the same for every entry of the run, so outputs differ only by what they hold. */
  constructor(
    private readonly outputDir: string,
    private readonly mtime: Date
  ) {
    this.root = path.join(outputDir, 'overlays')
  }

  async write(device: Device, files: BundleFile[], hooks: WriteHooks = {}): Promise<SinkOutput> {
    const target = path.join(this.root, `${device.serial}.tar.gz`)
    const temp = tempSibling(target)
    let archive: Buffer
    await hooks.beforeKeyWritten?.()
    try {
      // A bundle is a few KiB: build it in memory and write it with one call, not a stream chain.
      archive = gzipSync(await buildArchive(files, this.mtime), { level: 6 })
      if (!this.rootReady) {
        mkdirSync(this.root, { recursive: true, mode: 0o755 })
        this.rootReady = true
      }
      // Synchronous on purpose: two small syscalls cost less than two trips through libuv's
      // thread pool, which is what bounded throughput (profiled: the main thread sat idle).
      // The archive holds the device key: 0600 from creation on, whatever the umask (which can
      // only narrow the mode given to open, so it is set again explicitly).
      const fd = openSync(temp, 'wx', 0o600)
      try {
        fchmodSync(fd, 0o600)
        writeFileSync(fd, archive)
      } finally {
        closeSync(fd)
      }
      renameSync(temp, target)
    } catch (error) {
      rmSync(temp, { force: true })
      throw wrapWriteError(error, device, target)
    }
    return {
      path: path.relative(this.outputDir, target).split(path.sep).join('/'),
      size: archive.length,
      sha256: sha256Hex(archive),
      files: describeFiles(files, { modes: true, owners: true })
    }
  }

  verify(output: { path: string; sha256: string }): Promise<boolean> {
    return fileMatches(path.join(this.outputDir, output.path), output.sha256)
  }

  async close(): Promise<void> {}
}

async function buildArchive(files: readonly BundleFile[], mtime: Date): Promise<Buffer> {
  const archive = createTarPack()
  const written = new Set<string>()
  for (const file of files) {
    const parts = file.path.split('/').filter(Boolean)
    for (let depth = 1; depth < parts.length; depth++) {
      const dir = `${parts.slice(0, depth).join('/')}/`
      if (written.has(dir)) continue
      written.add(dir)
      archive.entry({ name: dir, type: 'directory', mode: 0o755, uid: 0, gid: 0, uname: 'root', gname: 'root', mtime })
    }
    archive.entry(
      { name: parts.join('/'), type: 'file', mode: file.mode, uid: file.uid, gid: file.gid, uname: 'root', gname: 'root', mtime },
      file.content
    )
  }
  archive.finalize()
  const chunks: Buffer[] = []
  for await (const chunk of archive) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
