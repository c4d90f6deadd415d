// Write a bundle into the selected partition of an image: ext2/3/4 through debugfs, FAT through
// mtools. This is the one entry point sinks need.
import type { BundleFile } from '../bundle/types.js'
import { stat } from 'node:fs/promises'
import { ImageError, messageOf } from '../errors.js'
import type { InstalledFile } from '../sink/types.js'
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

export async function writeBundle(opts: WriteBundleOptions): Promise<InstalledFile[]> {
  const { partition } = opts
  const where = describePartition(partition)
  const fsSize = partition.fileSystem.size
  // A file system that claims more than its partition would make the tools write into the next one.
  if (fsSize !== null && fsSize > partition.size) {
    throw new ImageError(`The ${partition.fileSystem.type} file system in ${where} claims ${fsSize} bytes but the partition has ${partition.size}; writing could corrupt the next partition. Fix the image (resize2fs / rebuild).`, { file: opts.image })
  }
  let imageSize: number
  try {
    imageSize = (await stat(opts.image)).size
  } catch (error) {
    throw new ImageError(`Cannot read ${opts.image}: ${messageOf(error)}`, { file: opts.image, cause: error })
  }
  if (partition.start + partition.size > imageSize) {
    throw new ImageError(`${where} ends at byte ${partition.start + partition.size}, beyond the end of ${opts.image} (${imageSize} bytes): the image is truncated.`, { file: opts.image })
  }
  const common = { image: opts.image, offset: partition.start, files: opts.files, tempDir: opts.tempDir, serial: opts.serial, partition: where, probeCache: opts.probeCache }
  if (isExt(partition.fileSystem.type)) return writeExtFiles(common)
  if (isFat(partition.fileSystem.type)) return writeFatFiles(common)
  throw new ImageError(`${where} has ${partition.fileSystem.type === 'unknown' ? 'no file system credbake recognizes' : `a ${partition.fileSystem.type} file system`}; credbake writes into ext2/3/4 and FAT12/16/32.`, { input: 'partition', file: opts.image })
}
