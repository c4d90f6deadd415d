// How long names and paths may be where credbake writes them, checked when the settings are read
// so an over-long credentials-dir is refused before the first certificate is issued (a certificate
// whose files cannot be written is a certificate to revoke). docs/input-limits.md explains each.

export const PATH_LIMITS = {
  /**
   * One name in a path, in UTF-8 bytes: ext2/3/4 and most Linux file systems store 255 bytes, FAT
   * long names 255 UTF-16 units (never fewer than the UTF-8 bytes), tar's pax headers any length.
   */
  component: 255,
  /**
   * A whole path, in bytes: PATH_MAX (4096) less the terminating NUL, the longest path a Linux
   * program (aktualizr on the device, credbake here) can open. ustar names are shorter, but the tar
   * writer puts longer ones in a pax header.
   */
  path: 4095,
  /** Room kept for the file names a layout puts into credentials-dir (the longest today: gateway.url, 11). */
  deviceFileName: 32,
  /**
   * Room kept under output-dir for credbake's own names: devices/.SERIAL.tmp-PID-RANDOM for a dir
   * output (a serial has at most 64 characters), images/SERIAL.img.xz.bmap and the like.
   */
  outputName: 128
} as const

/** Bytes `text` takes in UTF-8, as file systems count names. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8')
}

/** The first component of `absolutePath` longer than PATH_LIMITS.component bytes, or undefined. */
export function longComponent(absolutePath: string): { name: string; bytes: number } | undefined {
  for (const name of absolutePath.split('/')) {
    const bytes = utf8Bytes(name)
    if (bytes > PATH_LIMITS.component) return { name, bytes }
  }
  return undefined
}
