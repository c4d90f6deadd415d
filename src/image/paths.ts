// Device paths as the image writers accept them, and the directories they need.
import path from 'node:path'
import type { BundleFile } from '../bundle/types.js'
import { ImageError } from '../errors.js'

/** What a path is in the base image. */
export type DirState = { kind: 'dir' } | { kind: 'missing' } | { kind: 'file' } | { kind: 'symlink'; target: string }

/**
 * Absolute, normalized, no "..", no quotes or control characters (the tools' script syntax has no
 * escapes for them), no duplicates.
 */
export function checkDevicePaths(files: BundleFile[]): void {
  const seen = new Set<string>()
  for (const file of files) {
    const p = file.path
    const bad = !p.startsWith('/') || p === '/' || p.endsWith('/') || path.posix.normalize(p) !== p || p.split('/').includes('..') || /["\\\u0000-\u001f\u007f]/.test(p)
    if (bad)
      throw new ImageError(`Cannot write ${JSON.stringify(p)} into an image: device paths must be absolute, normalized, and free of quotes, backslashes and control characters.`, {
        input: 'credentials-dir'
      })
    if (seen.has(p)) throw new ImageError(`The bundle holds ${p} twice.`, { input: 'credentials-dir' })
    seen.add(p)
  }
}

/** Every ancestor directory of `paths` except "/", parents before children. */
export function ancestorDirs(paths: string[]): string[] {
  const dirs = new Set<string>()
  for (const p of paths) {
    for (let dir = path.posix.dirname(p); dir !== '/'; dir = path.posix.dirname(dir)) dirs.add(dir)
  }
  return [...dirs].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b))
}

/** "0600" for 0o600. */
export function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0')
}

/** What the ext (debugfs) and FAT (mtools) writers both take. */
export interface FsWriteOptions {
  /** The image file (a per-device copy; written in place). */
  image: string
  /** Byte offset of the file system in the image. */
  offset: number
  files: BundleFile[]
  /** A 0700 folder for the content files handed to the tool; everything put there is removed. */
  tempDir: string
  /** Device serial, for messages. */
  serial: string
  /** How messages name the partition, e.g. "partition 2 (rootfs)". */
  partition: string
  /**
   * What exists in the base image at the directories and files the bundle touches. All copies
   * of one base look the same before writing, so share one Map per base image and partition:
   * the probe then runs once, not once per device.
   */
  probeCache?: Map<string, DirState>
}
