import type { BundleFile } from '../bundle/types.js'
import { lstat, readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { octalMode, sha256File } from '../util/fsx.js'
import { sha256Hex } from '../util/hash.js'
import type { InstalledFile } from '../shapes/output.js'

/** The manifest's view of installed files. Private keys: presence and mode only, never a hash. */
export function describeFiles(files: readonly BundleFile[], medium: { modes: boolean; owners: boolean }): InstalledFile[] {
  return files.map((file) => ({
    path: file.path,
    mode: medium.modes ? octalMode(file.mode) : null,
    owner: medium.owners ? `${file.uid}:${file.gid}` : null,
    sha256: file.secret ? null : sha256Hex(file.content),
    size: file.content.length,
    secret: file.secret,
    ...(file.partitionPath === undefined ? {} : { partitionPath: file.partitionPath })
  }))
}

/** The files as the output stores them: at their partitionPath where they have one (OSTree sysroot paths). */
export function placedFiles(files: readonly BundleFile[]): BundleFile[] {
  return files.map((file) => (file.partitionPath === undefined ? file : { ...file, path: file.partitionPath }))
}

/**
 * A digest for a "dir" output (a tree, not a file): SHA-256 of one line per file,
 * "MODE UID:GID SHA256 PATH", sorted by path. `credbake verify` recomputes it.
 */
export function treeDigest(files: ReadonlyArray<Pick<BundleFile, 'path' | 'mode' | 'uid' | 'gid' | 'content'>>): string {
  const lines = [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((file) => `${octalMode(file.mode)} ${file.uid}:${file.gid} ${sha256Hex(file.content)} ${file.path}\n`)
  return sha256Hex(Buffer.from(lines.join('')))
}

/**
 * The tree digest of a "dir" output as it is on disk now. Owners are those the bundle asked for
 * (0:0): a tree written by a non-root user cannot carry them, and copying it as root restores them.
 * Links are never followed (the tree is inside output-dir): a link where a file was makes the
 * digest differ, and a tree that is itself a link is not read.
 */
export async function treeDigestOnDisk(root: string): Promise<string> {
  if (!(await lstat(root)).isDirectory()) throw Object.assign(new Error(`${root} is not a folder`), { code: 'ENOTDIR' })
  const files: Array<Pick<BundleFile, 'path' | 'mode' | 'uid' | 'gid' | 'content'>> = []
  for (const name of await readdir(root, { recursive: true })) {
    const file = path.join(root, name)
    const info = await lstat(file)
    if (!info.isFile()) continue
    files.push({ path: `/${name.split(path.sep).join('/')}`, mode: info.mode & 0o7777, uid: 0, gid: 0, content: await readFile(file) })
  }
  return treeDigest(files)
}

/** True when a file output is still there with the recorded SHA-256 (a regular file, not a link). */
export async function fileMatches(file: string, sha256: string): Promise<boolean> {
  try {
    return (await sha256File(file, { inside: true })) === sha256
  } catch {
    return false
  }
}
