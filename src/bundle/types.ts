/** One file to install on the device. */
export interface BundleFile {
  /** Absolute POSIX path on the device, e.g. /var/sota/import/pkey.pem. */
  path: string
  /**
   * Where the file is stored in the partition or output when that differs from `path`: on an
   * OSTree system, /ostree/deploy/OS/var/… for /var/…. Sinks write here and record both.
   */
  partitionPath?: string
  content: Buffer
  /** Permission bits, e.g. 0o600. */
  mode: number
  uid: number
  gid: number
  /** True for private keys: never hashed into the manifest, never logged. */
  secret: boolean
}
