import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, expect } from 'vitest'
import { ManifestError } from '../../src/errors.js'
import { readDeviceManifest } from '../../src/manifest/read.js'

export const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/manifests')

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** Writes `content` (text or bytes, exactly) to a fresh temp dir as `name`; returns its path. */
export function manifestFile(name: string, content: string | Buffer): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'credbake-manifest-'))
  dirs.push(dir)
  const file = path.join(dir, name)
  writeFileSync(file, content)
  return file
}

/** Reads a manifest that must fail; returns the ManifestError after checking file and line. */
export async function manifestError(file: string, line: number | undefined): Promise<ManifestError> {
  const error = await readDeviceManifest(file).then(
    () => undefined,
    (e: unknown) => e
  )
  expect(error).toBeInstanceOf(ManifestError)
  const me = error as ManifestError
  expect(me.input).toBe('manifest')
  expect(me.file).toBe(file)
  expect(me.line).toBe(line)
  if (line !== undefined) expect(me.message).toContain(`${file}:${line}:`)
  return me
}

/** Shorthand: write `content` as `name` and expect a ManifestError at `line`. */
export async function errorFor(name: string, content: string, line: number): Promise<ManifestError> {
  return manifestError(manifestFile(name, content), line)
}
