// Disk preflight: before the first certificate is issued, whether the outputs can fit on the
// output-dir's file system. The estimate is what the outputs will allocate (bytes per output times
// devices still to write) plus the journal and the review files; a refusal names both numbers.
// Compressed outputs cannot be estimated before one exists: checkDiskSpaceAfterFirst measures the
// first output once it is written.
import { stat, statfs, readdir } from 'node:fs/promises'
import path from 'node:path'
import { OutputError } from '../errors.js'
import type { Reporter } from './reporter.js'

/**
 * Journal records (issued + written), review manifest, certificates.pem and SHA256SUMS rows, per
 * device: 3.6 KiB measured on a 3,000-device P-256 tar bake.
 */
export const JOURNAL_AND_REVIEW_BYTES_PER_DEVICE = 4 * 1024
/** A .tar.gz overlay is under one 4 KiB block (4,135 bytes a device with the folder's entries, measured). */
export const TAR_BYTES_PER_DEVICE = 4 * 1024
/** Fixed room on top of the estimate (journal tail, manifest header, file-system slack). */
export const MARGIN_BYTES = 1024 * 1024
/** And a share of the estimate, for outputs a little larger than the one measured. */
export const MARGIN_SHARE = 0.02

export interface DiskSpaceCheck {
  outputDir: string
  /** Outputs still to write (after resume kept the rest). */
  devices: number
  /** Allocated bytes per output (rounded up to the file system's block size here). */
  bytesPerDevice: number
  /** Room needed at once on top of the outputs, e.g. the work copies of images in flight. */
  transientBytes?: number
  /** Where bytesPerDevice comes from, for the message: "the base image's allocated size". */
  basis?: string
  reporter?: Pick<Reporter, 'info'>
}

export interface DiskSpaceEstimate {
  neededBytes: number
  freeBytes: number
}

/** Space the file system holding `dir` has for an unprivileged writer (bavail × bsize). */
export async function freeSpace(dir: string): Promise<{ freeBytes: number; blockSize: number }> {
  const info = await statfs(dir).catch((error: unknown) => {
    throw new OutputError(`Cannot read the free space of output-dir ${dir}: ${(error as Error).message}`, { file: dir, cause: error })
  })
  return { freeBytes: Number(info.bavail) * Number(info.bsize), blockSize: Number(info.bsize) }
}

/** What `target` allocates on disk (st_blocks × 512; a folder: everything in it). */
export async function allocatedBytes(target: string): Promise<number> {
  const info = await stat(target)
  if (!info.isDirectory()) return info.blocks * 512
  let total = info.blocks * 512
  for (const entry of await readdir(target)) total += await allocatedBytes(path.join(target, entry))
  return total
}

/**
 * Refuses (OutputError, exit 5) when the estimate does not fit; returns both numbers otherwise.
 * Nothing to write (a resumed run that keeps every device): nothing is needed, and nothing said.
 */
export async function checkDiskSpace(check: DiskSpaceCheck): Promise<DiskSpaceEstimate> {
  const { freeBytes, blockSize } = await freeSpace(check.outputDir)
  if (check.devices === 0) return { neededBytes: 0, freeBytes }
  const block = Math.max(blockSize, 512)
  const perOutput = Math.ceil(check.bytesPerDevice / block) * block
  const estimate = check.devices * (perOutput + JOURNAL_AND_REVIEW_BYTES_PER_DEVICE) + (check.transientBytes ?? 0)
  const neededBytes = Math.ceil(estimate * (1 + MARGIN_SHARE)) + MARGIN_BYTES
  if (neededBytes > freeBytes) {
    throw new OutputError(
      `Not enough free space for ${check.devices} device${check.devices === 1 ? '' : 's'} in output-dir ${check.outputDir}: ` +
        `about ${formatBytes(neededBytes)} needed (${formatBytes(perOutput)} per output` +
        `${check.basis ? `, ${check.basis}` : ''}, plus journal and review files), ` +
        `${formatBytes(freeBytes)} free on its file system. Free some space, choose an output-dir on a larger disk, ` +
        'or bake in shards (shard input).',
      { file: check.outputDir }
    )
  }
  check.reporter?.info(
    `Disk: about ${formatBytes(neededBytes)} needed for ${check.devices} output${check.devices === 1 ? '' : 's'}, ${formatBytes(freeBytes)} free in ${check.outputDir}`
  )
  return { neededBytes, freeBytes }
}

/**
 * For outputs whose size is only known once one exists (compressed images and partitions): checks
 * the devices still to write against the first output as written. Its space is already taken.
 */
export async function checkDiskSpaceAfterFirst(check: {
  outputDir: string
  /** The first output, as written (a file, or a folder for format dir). */
  firstOutput: string
  /** Devices still to write after it. */
  remaining: number
  transientBytes?: number
  reporter?: Pick<Reporter, 'info'>
}): Promise<DiskSpaceEstimate> {
  const bytesPerDevice = await allocatedBytes(check.firstOutput)
  return checkDiskSpace({
    outputDir: check.outputDir,
    devices: check.remaining,
    bytesPerDevice,
    transientBytes: check.transientBytes,
    basis: `measured on the first output ${path.basename(check.firstOutput)}`,
    reporter: check.reporter
  })
}

/** 512 KiB, 14.7 MiB, 13.2 GiB. */
export function formatBytes(bytes: number): string {
  const KiB = 1024
  const MiB = KiB * 1024
  const GiB = MiB * 1024
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(1)} GiB`
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`
  return `${Math.ceil(bytes / KiB)} KiB`
}
