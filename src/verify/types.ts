// Shapes verify reads that other parts of credbake add to the review manifest (OSTree placement,
// files a base image already had): optional fields, read here before src/review/types.ts may carry
// them, under the names the review uses. Fold into src/review/types.ts once they are there.
import type { ManifestDevice, ManifestFile, ManifestHeader } from '../review/types.js'

/** A file as the manifest lists it; `partitionPath` is where it is inside the partition (or tar/dir output) when that differs from the device path. */
export type LocatedFile = ManifestFile & { partitionPath?: string }

/** A file the base image already had in the credentials folder: verify accepts exactly these beside the bundle. */
export interface PreexistingFile {
  path: string
  partitionPath?: string
  size: number
  sha256: string
  mode: string | null
  owner: string | null
}

export interface ReviewWarning {
  code: string
  message: string
}

export type VerifiedHeader = ManifestHeader & {
  warnings?: ReviewWarning[]
  output: ManifestHeader['output'] & {
    image?: NonNullable<ManifestHeader['output']['image']> & { preexisting?: PreexistingFile[] }
    ostree?: { os: string; sysrootPaths: boolean; deployments?: string[] }
  }
}

export type VerifiedDevice = Omit<ManifestDevice, 'files'> & { files: LocatedFile[] }

/** Where a file is inside the output. */
export function locate(file: { path: string; partitionPath?: string }): string {
  return file.partitionPath ?? file.path
}

/** What one manifest entry came to: for the device's report and the manifest-wide checks. */
export interface EntryResult {
  index: number
  /** The entry is not JSON or off the schema: the manifest is refused (exit 2). */
  malformed?: string
  serial?: string
  certificateSha256?: string
  serialNumber?: string
  /** The SHA256SUMS lines the entry gives, as [path, sha256] (src/review/sha256sums.ts deviceSums). */
  sums?: Array<[string, string]>
  problems: string[]
}
