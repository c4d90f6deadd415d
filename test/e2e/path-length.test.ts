// An over-long credentials-dir (a name over 255 bytes, or a path past PATH_MAX) or output-dir is
// refused when the settings are read: before the first certificate is issued, so no certificate
// exists that would have to be revoked (docs/input-limits.md).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LAYOUT_FILES } from '../../src/bundle/layouts.js'
import { parseSettings } from '../../src/settings/parse.js'
import { PATH_LIMITS } from '../../src/util/path-limits.js'
import { readJournalFile } from '../helpers/faults.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { runCli } from '../helpers/run.js'

let ca: CaFixture
let work: string
let manifest: string

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-paths-'))
  manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, 'serial\nP-1\nP-2\n')
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

function bake(out: string, extra: string[]): ReturnType<typeof runCli> {
  return runCli(['bake', '--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', path.join(work, out), ...extra])
}

function expectNothingIssued(out: string): void {
  expect(readJournalFile(path.join(work, out)).records.filter((record) => record.type === 'issued')).toEqual([])
  expect(existsSync(path.join(work, out, 'credbake-manifest.json'))).toBe(false)
}

describe('credentials-dir', () => {
  it('a name of 256 bytes is refused before anything is issued, in every format', () => {
    for (const format of ['tar', 'dir']) {
      const out = `o-name-${format}`
      const result = bake(out, ['--format', format, '--credentials-dir', `/var/${'n'.repeat(256)}/import`])
      expect(result.status, result.stderr).toBe(2)
      expect(result.stderr).toMatch(/Input "credentials-dir": the name "n{40}…" is 256 bytes long; a name in a path may be at most 255 bytes/)
      expectNothingIssued(out)
    }
  })

  it('bytes count, not characters: 128 two-byte characters are 256 bytes', () => {
    const result = bake('o-utf8', ['--credentials-dir', `/var/${'é'.repeat(128)}`])
    expect(result.status, result.stderr).toBe(2)
    expect(result.stderr).toMatch(/is 256 bytes long/)
    expectNothingIssued('o-utf8')
  })

  it('a path past PATH_MAX with the file names in it is refused', () => {
    const dir = `/${Array.from({ length: 17 }, () => 'd'.repeat(240)).join('/')}`
    const result = bake('o-path', ['--credentials-dir', dir])
    expect(result.status, result.stderr).toBe(2)
    expect(result.stderr).toMatch(/Input "credentials-dir" is 4097 bytes long; .* may be at most 4062 bytes/)
    expectNothingIssued('o-path')
  })

  it('with ostree-os the sysroot path in front counts too', () => {
    // /var + 16 names of 240 bytes + "imp…": 4062 bytes, the most a plain credentials-dir may have.
    const dir = `/var/${Array.from({ length: 16 }, () => 'd'.repeat(240)).join('/')}/${'i'.repeat(4062 - 5 - 16 * 241)}`
    expect(Buffer.byteLength(dir)).toBe(4062)
    const inputs = { manifest, 'fleet-ca-cert': ca.certPath, 'fleet-ca-key': ca.keyPath, 'credentials-dir': dir }
    expect(parseSettings(inputs, { baseDir: work }).credentialsDir).toBe(dir)
    expect(() => parseSettings({ ...inputs, 'ostree-os': 'torizon' }, { baseDir: work })).toThrow(
      /with the names of the files in it \(up to 32 bytes\) and the OSTree sysroot path in front/
    )
  })

  it('a name of exactly 255 bytes is accepted and lands in the overlay whole', () => {
    const name = 'm'.repeat(255)
    const result = bake('o-255', ['--format', 'tar', '--credentials-dir', `/var/${name}`])
    expect(result.status, result.stderr).toBe(0)
    const listing = execFileSync('tar', ['-tzf', path.join(work, 'o-255', 'overlays', 'P-1.tar.gz')], { encoding: 'utf8' })
    expect(listing).toContain(`var/${name}/pkey.pem`)
  })

  it("the room kept for file names holds every layout's names", () => {
    for (const files of Object.values(LAYOUT_FILES)) for (const file of files) expect(Buffer.byteLength(file.name)).toBeLessThanOrEqual(PATH_LIMITS.deviceFileName)
  })
})

describe('output-dir', () => {
  const longOutputDir = (bytes: number): string => {
    const parts: string[] = []
    let length = work.length
    while (length + 201 <= bytes) {
      parts.push('o'.repeat(200))
      length += 201
    }
    parts.push('x'.repeat(Math.max(1, bytes - length - 1)))
    return path.join(work, ...parts)
  }
  const settings = (format: string, outputDir: string) =>
    parseSettings({ manifest, 'fleet-ca-cert': ca.certPath, 'fleet-ca-key': ca.keyPath, format, 'output-dir': outputDir }, { baseDir: work })

  it('format dir: output-dir, the serial folder, credentials-dir and a file name must fit PATH_MAX', () => {
    const outputDir = longOutputDir(3950)
    expect(Buffer.byteLength(outputDir)).toBe(3950)
    expect(() => settings('dir', outputDir)).toThrow(/Input "output-dir": the paths of the outputs in it would be longer than 4095 bytes/)
    // A tar overlay keeps the device paths inside the archive: the same output-dir fits.
    expect(settings('tar', outputDir).outputDir).toBe(outputDir)
  })

  it('through the CLI: refused before anything is issued', () => {
    const outputDir = longOutputDir(4000)
    const result = runCli(['bake', '--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--format', 'dir', '--output-dir', outputDir])
    expect(result.status, result.stderr).toBe(2)
    expect(result.stderr).toMatch(/Input "output-dir": the paths of the outputs in it would be longer than 4095 bytes/)
    expect(existsSync(outputDir)).toBe(false)
  })
})
