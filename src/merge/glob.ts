// The action input `merge`: glob patterns of shard manifests, one per line, expanded with
// tinyglobby (Node 20 has no fs.glob). `*` and `?` match within one path segment and never a
// leading "." (unless the pattern's segment starts with one), `[abc]`/`[a-z]`/`[!a]` are classes,
// `**` matches zero or more folders without following links; relative patterns resolve against
// `baseDir`, absolute ones are taken as they are.
import path from 'node:path'
import { globSync } from 'tinyglobby'

/** Files matching any of the patterns (one per line), absolute, sorted, each once. */
export function expandGlobs(patterns: string, baseDir: string): string[] {
  const found = new Set<string>()
  for (const line of patterns.split(/\r?\n/)) {
    const pattern = line.trim()
    if (!pattern) continue
    // Each pattern from the root of its own path: absolute ones are no longer "outside" baseDir.
    const absolute = path.resolve(baseDir, pattern)
    const root = path.parse(absolute).root
    const relative = absolute.slice(root.length).split(path.sep).join('/')
    for (const file of globSync(relative, { cwd: root, absolute: true, onlyFiles: true, dot: false, followSymbolicLinks: false, expandDirectories: false }))
      found.add(path.normalize(file))
  }
  return [...found].sort()
}
