// What verify's checking threads and its main thread pass each other.

/** Where a file is inside the output: its partitionPath when the manifest gives one (OSTree sysroots), else its device path. */
export function locate(file: { path: string; partitionPath?: string }): string {
  return file.partitionPath ?? file.path
}

/** What one manifest entry came to: for the device's report and the manifest-wide checks. */
export interface EntryResult {
  index: number
  /** The entry is not JSON or off the schema: the manifest is refused (exit 2). */
  malformed?: string
  serial?: string
  /** The device ID and certificate subject the entry records (what a registration export's line is made of). */
  deviceId?: string
  subject?: string
  certificateSha256?: string
  serialNumber?: string
  /** The SHA256SUMS lines the entry gives, as [path, sha256] (its format's rule: outputChecksums in src/formats/registry.ts). */
  sums?: Array<[string, string]>
  problems: string[]
}
