// Write a bundle into the selected partition of an image: ext2/3/4 through debugfs, FAT through
// mtools. This is the one entry point sinks need.
import type { BundleFile } from '../bundle/types.js'
import { stat } from 'node:fs/promises'
import { ImageError, messageOf } from '../errors.js'
import type { InstalledFile } from '../shapes/output.js'
import { writeExtFiles } from './debugfs.js'
import { isExt, isFat } from './fs.js'
import { writeFatFiles } from './mtools.js'
import type { DirState } from './paths.js'
import type { Partition } from './table.js'

export interface WriteBundleOptions {
  /** The per-device image copy (never the base image). */
  image: string
  /** From readDiskLayout/selectPartition on the base image. */
  partition: Partition
  files: BundleFile[]
  /** 0700 folder for transient content files. */
  tempDir: string
  serial: string
  /**
   * Create one Map per base image + partition and pass it for every device: the directories and
   * files that already exist are then looked up once.
   */
  probeCache?: Map<string, DirState>
}

/** "partition 2 (rootfs)", "the file system (no partition table)". */
export function describePartition(partition: Partition): string {
  if (partition.kind === 'whole') return 'the file system (no partition table)'
  const names = [partition.name, partition.fileSystem.label].filter((n): n is string => !!n)
  const unique = [...new Set(names)]
  return `partition ${partition.number}${unique.length > 0 ? ` (${unique.join(', ')})` : ''}`
}

/** FAT32 has at least this many clusters by the specification; mtools goes by the count. */
const FAT32_MIN_CLUSTERS = 65525

/**
 * Refuses a file system the tools cannot write safely, before anything is issued (the sink calls
 * it when it opens) and again before each write. mtools types FAT by cluster count, so a FAT32
 * made with fewer clusters (`mkfs.vfat -F 32` on a small partition; Linux mounts it as FAT32) is
 * FAT16 to it: it finds no root directory slots, and would read the 32-bit FAT as 16-bit.
 */
export function checkWritable(partition: Partition, image: string): void {
  const fat = partition.fileSystem.fat
  if (partition.fileSystem.type === 'fat32' && fat && fat.clusters < FAT32_MIN_CLUSTERS) {
    throw new ImageError(
      `${describePartition(partition)} is a FAT32 file system with ${fat.clusters} clusters, fewer than the ${FAT32_MIN_CLUSTERS} of the FAT specification. ` +
        'mtools, which credbake writes FAT with, then takes it for FAT16 and cannot write it safely. ' +
        'Make it with enough clusters (mkfs.vfat -F 32 -s 1 on a partition of at least 33 MiB), as FAT16 (mkfs.vfat -F 16), or choose an ext2/3/4 partition.',
      { input: 'partition', file: image }
    )
  }
}

export async function writeBundle(opts: WriteBundleOptions): Promise<InstalledFile[]> {
  const { partition } = opts
  const where = describePartition(partition)
  checkWritable(partition, opts.image)
  const fsSize = partition.fileSystem.size
  // A file system that claims more than its partition would make the tools write into the next one.
  if (fsSize !== null && fsSize > partition.size) {
    throw new ImageError(
      `The ${partition.fileSystem.type} file system in ${where} claims ${fsSize} bytes but the partition has ${partition.size}; writing could corrupt the next partition. Fix the image (resize2fs / rebuild).`,
      { file: opts.image }
    )
  }
  let imageSize: number
  try {
    imageSize = (await stat(opts.image)).size
  } catch (error) {
    throw new ImageError(`Cannot read ${opts.image}: ${messageOf(error)}`, { file: opts.image, cause: error })
  }
  if (partition.start + partition.size > imageSize) {
    throw new ImageError(`${where} ends at byte ${partition.start + partition.size}, beyond the end of ${opts.image} (${imageSize} bytes): the image is truncated.`, {
      file: opts.image
    })
  }
  // The tools write where each file is stored in the partition (an OSTree sysroot path where the
  // bundle gives one); the result names both that and the device path.
  const placed = opts.files.map((file) => (file.partitionPath === undefined ? file : { ...file, path: file.partitionPath }))
  const common = { image: opts.image, offset: partition.start, files: placed, tempDir: opts.tempDir, serial: opts.serial, partition: where, probeCache: opts.probeCache }
  let installed: InstalledFile[] | undefined
  if (isExt(partition.fileSystem.type)) installed = await writeExtFiles(common)
  if (isFat(partition.fileSystem.type)) installed = await writeFatFiles(common)
  if (installed) {
    return installed.map((file, i) => {
      const partitionPath = opts.files[i]!.partitionPath
      return partitionPath === undefined ? file : { ...file, path: opts.files[i]!.path, partitionPath }
    })
  }
  throw new ImageError(
    `${where} has ${partition.fileSystem.type === 'unknown' ? 'no file system credbake recognizes' : `a ${partition.fileSystem.type} file system`}; credbake writes into ext2/3/4 and FAT12/16/32.`,
    { input: 'partition', file: opts.image }
  )
}
