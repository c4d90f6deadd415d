// What a device's output holds, as data: the shapes shared by the stages that write outputs
// (image, formats), record them (journal, review) and read them back (verify, merge). Types only,
// so any stage may import them without depending on another stage.

/** Where the partition an output was written into sits in the base image (image, partition formats). */
export interface PartitionRecord {
  number: number
  offset: number
  size: number
  fileSystem: string
  label?: string
}

/** The block map written beside an image output (path relative to output-dir). */
export interface BmapRecord {
  path: string
  sha256: string
}

/** What a format's writer reports for each file it installed. */
export interface InstalledFile {
  path: string
  /** Where it is inside the partition or output when that differs from `path` (OSTree sysroot paths). */
  partitionPath?: string
  /** e.g. "0600"; null where the medium has no modes (FAT). */
  mode: string | null
  /** "0:0"; null where the medium has no owners (FAT). */
  owner: string | null
  /** SHA-256 of the content; null for private keys (only presence and mode are recorded). */
  sha256: string | null
  size: number
  secret: boolean
}

/** Where a device's output went. */
export interface SinkOutput {
  /** Path relative to output-dir, POSIX separators. */
  path: string
  /** Tree outputs (dir): size is the sum of file sizes and sha256 a digest of the tree listing. */
  size: number
  sha256: string
  /** Image formats: where the partition sits in the base image. */
  partition?: PartitionRecord
  /** With input bmap: the block map written beside an image output. */
  bmap?: BmapRecord
  files: InstalledFile[]
}

/** A warning the review carries: `code` for tools (e.g. "ab-slot"), `message` for people. */
export interface ReviewWarning {
  code: string
  message: string
}

/** A file found in the base image's credentials folder that the bundle leaves in place. */
export interface PreexistingFile {
  path: string
  partitionPath?: string
  size: number
  sha256: string
  mode: string | null
  owner: string | null
}
