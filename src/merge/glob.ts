// The action input `merge`: glob patterns of shard manifests, expanded here (Node 20 has no
// fs.glob). Supported: `*` and `?` within one path segment (not matching a leading "." unless the
// pattern's segment starts with one), `[abc]`/`[a-z]` classes, and `**` as a whole segment for
// zero or more folders. One pattern per line; relative patterns resolve against `baseDir`.
import { readdirSync, statSync, type Dirent } from 'node:fs'
import path from 'node:path'

const MAGIC = /[*?[]/

/** Segment pattern → RegExp over one path segment. */
function segmentRegExp(segment: string): RegExp {
  let source = ''
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!
    if (c === '*') source += '[^/]*'
    else if (c === '?') source += '[^/]'
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2)
      if (close < 0) source += '\\['
      else {
        let body = segment.slice(i + 1, close)
        const negate = body.startsWith('!') || body.startsWith('^')
        if (negate) body = body.slice(1)
        source += `[${negate ? '^' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`
        i = close
      }
    } else source += c.replace(/[.+^${}()|\\/]/g, '\\$&')
  }
  return new RegExp(`^${source}$`)
}

function listDir(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
  } catch {
    return []
  }
}

function exists(file: string): boolean {
  try {
    statSync(file)
    return true
  } catch {
    return false
  }
}

function isDirectory(dir: string, entry: Dirent): boolean {
  if (entry.isDirectory()) return true
  if (!entry.isSymbolicLink()) return false
  try {
    return statSync(path.join(dir, entry.name)).isDirectory()
  } catch {
    return false
  }
}

function walk(dir: string, segments: string[], at: number, found: Set<string>): void {
  if (at === segments.length) {
    if (exists(dir)) found.add(dir)
    return
  }
  const segment = segments[at]!
  if (segment === '**') {
    walk(dir, segments, at + 1, found)
    // Real folders only below `**` (no symlinks), so a link loop cannot make it run forever.
    for (const entry of listDir(dir)) {
      if (entry.isDirectory() && !entry.name.startsWith('.')) walk(path.join(dir, entry.name), segments, at, found)
    }
    return
  }
  if (!MAGIC.test(segment)) {
    walk(path.join(dir, segment), segments, at + 1, found)
    return
  }
  const pattern = segmentRegExp(segment)
  const last = at === segments.length - 1
  for (const entry of listDir(dir)) {
    if (entry.name.startsWith('.') && !segment.startsWith('.')) continue
    if (!pattern.test(entry.name)) continue
    if (!last && !isDirectory(dir, entry)) continue
    walk(path.join(dir, entry.name), segments, at + 1, found)
  }
}

/** Files matching any of the patterns (one per line), absolute, sorted, each once. */
export function expandGlobs(patterns: string, baseDir: string): string[] {
  const found = new Set<string>()
  for (const line of patterns.split(/\r?\n/)) {
    const pattern = line.trim()
    if (!pattern) continue
    const absolute = path.resolve(baseDir, pattern)
    const root = path.parse(absolute).root
    const segments = absolute
      .slice(root.length)
      .split(path.sep)
      .filter((segment) => segment !== '')
    walk(root, segments, 0, found)
  }
  return [...found]
    .filter((file) => {
      try {
        return statSync(file).isFile()
      } catch {
        return false
      }
    })
    .sort()
}
