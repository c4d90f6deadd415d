// verify's reader of image and partition outputs (their records: image.ts), loaded only when a
// review of those formats is verified. Compressed outputs are decompressed into the secret temp
// folder first (streamed to a sparse file); inside, the files are read by the same debugfs/mtools
// read-back the writers use to check what they wrote.
import { open, stat } from 'node:fs/promises'
import { messageOf } from '../errors.js'
import { prepareBaseImage } from '../image/compress.js'
import { readExtFiles } from '../image/debugfs.js'
import { isExt, isFat, probeFileSystem } from '../image/fs.js'
import { readFatFiles } from '../image/mtools.js'
import { readDiskLayout } from '../image/table.js'
import type { ManifestDevice } from '../shapes/review.js'
import { sha256File } from '../util/fsx.js'
import { lstatOutput, OutputUnreadable, outputTarget, type FoundFile, type OutputRequest, type OutputView, type ReadContext } from './read.js'

/** An image or partition output as it is now (`wholeImage`: format image, else partition). */
export async function readImageOutput(context: ReadContext, device: ManifestDevice, request: OutputRequest, wholeImage: boolean): Promise<OutputView> {
  const file = outputTarget(context, device)
  const info = lstatOutput(file, device)
  // An image shorter than recorded was cut off (a copy or upload that stopped): say so plainly
  // rather than report what a file system cut in half looks like.
  if (info.isFile() && info.size < device.output.size) {
    throw new OutputUnreadable(`output ${device.output.path} is truncated: ${info.size} bytes, the manifest records ${device.output.size}`)
  }
  if (!info.isFile()) throw new OutputUnreadable(`output ${device.output.path} is not a file`)
  const sha256 = await sha256File(file)
  // Compressed outputs (by content) are decompressed into the secret temp folder (streamed into a
  // sparse file: zeros cost neither memory nor disk), removed after.
  const prepared = await prepareBaseImage(file, context.tempDir).catch((error: unknown) => {
    throw new OutputUnreadable(`output ${device.output.path} cannot be decompressed (${messageOf(error)})`)
  })
  try {
    const image = prepared.path
    const offset = wholeImage ? await partitionOffset(context, image, device) : 0
    const size = (await stat(image)).size
    const handle = await open(image, 'r')
    const fs = await probeFileSystem(handle, offset).finally(() => handle.close())
    if (fs.size !== null && offset + fs.size > size) {
      throw new OutputUnreadable(`output ${device.output.path} is truncated: its ${fs.type} file system ends at byte ${offset + fs.size}, the image has ${size} bytes`)
    }
    const where = device.output.partition ? `partition ${device.output.partition.number}` : 'the file system'
    const opts = { image, offset, partition: where, tempDir: context.tempDir, serial: device.serial }
    const paths = [...request.files.keys()]
    const files = new Map<string, FoundFile | null>()
    let listings: Map<string, string[] | null>
    if (isExt(fs.type)) {
      const read = await readExtFiles(opts, paths, request.listings)
      paths.forEach((p, i) => {
        const found = read.files[i]
        const content = found && found.type === 'regular' ? found.content : null
        files.set(
          p,
          found && content
            ? { mode: found.mode & 0o7777, uid: found.uid, gid: found.gid, content: content.length > request.files.get(p)! ? null : content, size: content.length }
            : null
        )
      })
      listings = read.listings
    } else if (isFat(fs.type)) {
      const read = await readFatFiles(opts, paths, request.listings)
      paths.forEach((p, i) => {
        const content = read.files[i]
        files.set(p, content ? { mode: null, uid: null, gid: null, content: content.length > request.files.get(p)! ? null : content, size: content.length } : null)
      })
      listings = read.listings
    } else {
      throw new OutputUnreadable(`output ${device.output.path} holds no ext or FAT file system at byte ${offset}`)
    }
    return { sha256, files, listings, problems: [] }
  } finally {
    await prepared.cleanup()
  }
}

/**
 * Where the file system starts in an image output (a partition output starts with it): the manifest entry's
 * partition offset, or (older manifests without it) the recorded partition number looked up in
 * the image's own partition table.
 */
async function partitionOffset(context: ReadContext, image: string, device: ManifestDevice): Promise<number> {
  if (device.output.partition) return device.output.partition.offset
  const number = Number(/^\d+/.exec(context.header.output.image?.partition ?? '')?.[0] ?? Number.NaN)
  const layout = await readDiskLayout(image)
  const found = layout.partitions.find((p) => p.number === number) ?? (layout.partitions.length === 1 ? layout.partitions[0] : undefined)
  if (!found) throw new OutputUnreadable(`output ${device.output.path}: the manifest does not say which partition holds the credentials`)
  return found.start
}
