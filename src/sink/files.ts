import type { BundleFile } from '../bundle/types.js'
import { octalMode, sha256Hex } from '../util/fsx.js'
import type { InstalledFile } from './types.js'

/** The manifest's view of installed files. Private keys: presence and mode only, never a hash. */
export function describeFiles(files: readonly BundleFile[], medium: { modes: boolean; owners: boolean }): InstalledFile[] {
  return files.map((file) => ({
    path: file.path,
    mode: medium.modes ? octalMode(file.mode) : null,
    owner: medium.owners ? `${file.uid}:${file.gid}` : null,
    sha256: file.secret ? null : sha256Hex(file.content),
    size: file.content.length,
    secret: file.secret
  }))
}

/**
 * A digest for a "dir" output (a tree, not a file): SHA-256 of one line per file,
 * "MODE UID:GID SHA256 PATH", sorted by path. `credbake verify` recomputes it.
 */
export function treeDigest(files: readonly BundleFile[]): string {
  const lines = [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((file) => `${octalMode(file.mode)} ${file.uid}:${file.gid} ${sha256Hex(file.content)} ${file.path}\n`)
  return sha256Hex(lines.join(''))
}
