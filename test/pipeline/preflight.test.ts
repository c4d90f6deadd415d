// Disk preflight against a real, size-limited file system: an 8 MiB tmpfs (needs root; skipped
// with a warning where mounting is not allowed).
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXIT_CODES, OutputError } from '../../src/errors.js'
import { TAR_BYTES_PER_DEVICE, allocatedBytes, checkDiskSpace, checkDiskSpaceAfterFirst, formatBytes, freeSpace } from '../../src/pipeline/preflight.js'
import { mountTmpfs, unmount } from '../helpers/faults.js'

const MiB = 1024 * 1024
let work: string
let disk: string
let outputDir: string
let mountProblem: string | undefined

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-preflight-'))
  disk = path.join(work, 'disk')
  mountProblem = mountTmpfs(disk, 8 * MiB)
  if (mountProblem) console.warn(`preflight tmpfs tests skipped: ${mountProblem}`)
  else {
    outputDir = path.join(disk, 'out')
    mkdirSync(outputDir)
  }
})

afterAll(() => {
  if (!mountProblem) unmount(disk)
  rmSync(work, { recursive: true, force: true })
})

async function refusal(promise: Promise<unknown>): Promise<OutputError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught
  )
  expect(error).toBeInstanceOf(OutputError)
  return error as OutputError
}

describe('disk preflight on an 8 MiB tmpfs', () => {
  it('sees the tmpfs free space (bavail × bsize)', async ({ skip }) => {
    if (mountProblem) skip()
    const { freeBytes } = await freeSpace(outputDir)
    expect(freeBytes).toBeGreaterThan(7 * MiB)
    expect(freeBytes).toBeLessThanOrEqual(8 * MiB)
  })

  it('refuses a 2,000-device tar bake, naming output-dir and both numbers (exit 5)', async ({ skip }) => {
    if (mountProblem) skip()
    const { freeBytes } = await freeSpace(outputDir)
    const error = await refusal(checkDiskSpace({ outputDir, devices: 2000, bytesPerDevice: TAR_BYTES_PER_DEVICE }))
    expect(EXIT_CODES[error.kind]).toBe(5)
    expect(error.message).toContain(`output-dir ${outputDir}`)
    expect(error.message).toContain('2000 devices')
    // 2,000 × (4 KiB + 4 KiB) = 15.6 MiB, plus 2 % and 1 MiB: 16.9 MiB.
    expect(error.message).toMatch(/about 16\.9 MiB needed/)
    expect(error.message).toContain(`${formatBytes(freeBytes)} free`)
  })

  it('lets a small tar bake through and reports the estimate', async ({ skip }) => {
    if (mountProblem) skip()
    const said: string[] = []
    const estimate = await checkDiskSpace({
      outputDir,
      devices: 20,
      bytesPerDevice: TAR_BYTES_PER_DEVICE,
      reporter: { info: (message) => said.push(message) }
    })
    expect(estimate.neededBytes).toBeLessThan(estimate.freeBytes)
    expect(estimate.neededBytes).toBeGreaterThan(20 * TAR_BYTES_PER_DEVICE)
    expect(said).toHaveLength(1)
    expect(said[0]).toContain(outputDir)
  })

  it('rounds each output up to the block size and counts transient room', async ({ skip }) => {
    if (mountProblem) skip()
    // 700 one-byte outputs still take a 4 KiB page each: 700 × (4 + 4) KiB + 2 % + 1 MiB = 6.6 MiB
    // fits in the 8 MiB; 3 MiB of work copies on top of that do not.
    await checkDiskSpace({ outputDir, devices: 700, bytesPerDevice: 1 })
    await refusal(checkDiskSpace({ outputDir, devices: 700, bytesPerDevice: 1, transientBytes: 3 * MiB }))
  })

  it('after the first (compressed) output: measures it and checks the devices still to write', async ({ skip }) => {
    if (mountProblem) skip()
    const first = path.join(outputDir, 'first.img.gz')
    writeFileSync(first, randomBytes(MiB)) // incompressible: 1 MiB allocated
    try {
      expect(await allocatedBytes(first)).toBe(MiB)
      const error = await refusal(checkDiskSpaceAfterFirst({ outputDir, firstOutput: first, remaining: 10 }))
      expect(error.message).toContain('measured on the first output first.img.gz')
      expect(error.message).toMatch(/1\.0 MiB per output/)
      await checkDiskSpaceAfterFirst({ outputDir, firstOutput: first, remaining: 3 })
    } finally {
      rmSync(first)
    }
  })

  it('nothing left to write needs nothing', async ({ skip }) => {
    if (mountProblem) skip()
    expect((await checkDiskSpace({ outputDir, devices: 0, bytesPerDevice: 10 * MiB })).neededBytes).toBe(0)
  })

  it('an output-dir that cannot be read is a clear error', async () => {
    const missing = path.join(work, 'no-such-dir')
    const error = await refusal(checkDiskSpace({ outputDir: missing, devices: 1, bytesPerDevice: 1 }))
    expect(error.message).toContain(`output-dir ${missing}`)
  })
})

describe('formatBytes', () => {
  it('KiB, MiB, GiB', () => {
    expect(formatBytes(3000)).toBe('3 KiB')
    expect(formatBytes(15.04 * MiB)).toBe('15.0 MiB')
    expect(formatBytes(14 * 1024 * MiB)).toBe('14.0 GiB')
  })
})

describe('the bake runs the preflight before the first certificate', () => {
  it('a 2,000-device tar bake into the 8 MiB tmpfs exits 5 naming both numbers, with nothing issued', async ({ skip }) => {
    if (mountProblem) skip()
    const { makeRootCa, cleanupPki } = await import('../helpers/pki.js')
    const { runCliAsync } = await import('../helpers/faults.js')
    const ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Preflight Root' })
    try {
      const manifest = path.join(work, 'many.csv')
      writeFileSync(manifest, `serial\n${Array.from({ length: 2000 }, (_, i) => `PF-${i}`).join('\n')}\n`)
      const out = path.join(disk, 'bake-out')
      const result = await runCliAsync(['bake', '--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out])
      expect(result.status, result.stderr).toBe(EXIT_CODES.output)
      expect(result.stderr).toMatch(/Not enough free space for 2000 devices in output-dir/)
      expect(result.stderr).toMatch(/MiB needed .* MiB free/)
      // Refused before the journal was opened: no certificate exists.
      expect(readdirSync(out).filter((name) => !name.startsWith('.'))).toEqual([])
    } finally {
      cleanupPki()
    }
  })
})
