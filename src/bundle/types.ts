/** One file to install on the device. */
export interface BundleFile {
  /** Absolute POSIX path on the device, e.g. /var/sota/import/pkey.pem. */
  path: string
  content: Buffer
  /** Permission bits, e.g. 0o600. */
  mode: number
  uid: number
  gid: number
  /** True for private keys: never hashed into the manifest, never logged. */
  secret: boolean
}
