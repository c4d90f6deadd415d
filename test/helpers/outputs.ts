// Readers for credbake outputs, independent of credbake's own code: the system `tar` for
// overlays, plain text splitting for PEM bundles.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export interface TarEntry {
  name: string
  mode: number
  uid: number
  gid: number
  type: 'file' | 'directory'
  content: Buffer
}

/** List a .tar.gz with GNU tar (numeric owners) and read each file's bytes. */
export function extractTar(file: string): TarEntry[] {
  const listing = execFileSync('tar', ['--numeric-owner', '-tvzf', file], { encoding: 'utf8' })
  const dir = mkdtempSync(path.join(os.tmpdir(), 'credbake-untar-'))
  try {
    execFileSync('tar', ['-xzf', file, '-C', dir])
    return listing
      .trim()
      .split('\n')
      .map((line) => {
        // drwxr-xr-x 0/0 0 2026-11-27 17:00 var/
        const match = /^([-d])([rwx-]{9}) (\d+)\/(\d+)\s+\d+ \S+ \S+ (.+)$/.exec(line)
        if (!match) throw new Error(`unexpected tar listing line: ${line}`)
        const [, kind, perms, uid, gid, name] = match as unknown as [string, string, string, string, string, string]
        const mode = [...perms].reduce((bits, c, i) => (c === '-' ? bits : bits | (1 << (8 - i))), 0)
        const type = kind === 'd' ? ('directory' as const) : ('file' as const)
        return {
          name,
          mode,
          uid: Number(uid),
          gid: Number(gid),
          type,
          content: type === 'file' ? readFileSync(path.join(dir, name)) : Buffer.alloc(0)
        }
      })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export function splitPems(text: string): string[] {
  return text.match(/-----BEGIN [A-Z ]+-----\n[\s\S]*?-----END [A-Z ]+-----\n?/g)?.map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`)) ?? []
}
