// Every input has a budget (docs/input-limits.md): each case below is refused through the CLI
// (and the action where it prints differently) with exit 2, a message naming the input, no stack
// trace, no certificate issued, within 256 MiB of peak memory (VmHWM of the CLI process, printed
// at its exit by bench/peak-rss.cjs) and without hanging (a FIFO is refused, never waited on).
// Large inputs are made sparse or streamed to disk, never held in this process.
import { spawnSync } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { once } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseSettings } from '../../src/settings/parse.js'
import { INPUT_LIMITS } from '../../src/util/bounded-read.js'
import { readJournalFile } from '../helpers/faults.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { CLI, NODE20, ROOT, runAction, tempEnv } from '../helpers/run.js'

const PEAK_RSS = path.join(ROOT, 'bench/peak-rss.cjs')
const MAX_PEAK_MIB = 256
const MiB = 1024 * 1024

let ca: CaFixture
let work: string

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-budgets-'))
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

interface Run {
  status: number | null
  stdout: string
  stderr: string
  peakMiB: number
}

/** The CLI as a user runs it, with its peak RSS; killed (status null) if it ever hangs. */
function cli(args: string[]): Run {
  const result = spawnSync(NODE20, ['-r', PEAK_RSS, CLI, ...args], {
    cwd: work,
    env: { ...tempEnv(), PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work },
    encoding: 'utf8',
    // A guard against a hang (the bug this file exists for), not a timing assertion.
    timeout: 120_000,
    killSignal: 'SIGKILL'
  })
  const peak = /credbake-peak-rss-kib: (\d+)/.exec(result.stderr)
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr.replace(/credbake-peak-rss-kib: \d+\n/, ''),
    peakMiB: peak ? Number(peak[1]) / 1024 : Number.POSITIVE_INFINITY
  }
}

function file(name: string, content: string | Buffer): string {
  const target = path.join(work, name)
  mkdirSync(path.dirname(target), { recursive: true })
  writeFileSync(target, content)
  return target
}

/** A file of `size` bytes that takes no disk space (a hole). */
function sparse(name: string, size: number): string {
  const target = file(name, '')
  truncateSync(target, size)
  return target
}

function fifo(name: string): string {
  const target = path.join(work, name)
  const made = spawnSync('mkfifo', [target])
  expect(made.status, made.stderr?.toString()).toBe(0)
  return target
}

function bakeArgs(manifest: string, out: string, extra: string[] = []): string[] {
  return ['bake', '--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--format', 'tar', '--output-dir', path.join(work, out), ...extra]
}

/** Refused as bad input: exit 2, the message, no stack trace, within the memory budget, nothing issued. */
function expectRefused(run: Run, patterns: RegExp[], outputDir?: string): void {
  expect(run.status, run.stderr).toBe(2)
  for (const pattern of patterns) expect(run.stderr).toMatch(pattern)
  expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/)
  expect(run.stderr).not.toMatch(/unexpected error/)
  expect(run.peakMiB, `peak RSS ${run.peakMiB.toFixed(0)} MiB`).toBeLessThan(MAX_PEAK_MIB)
  if (outputDir !== undefined) {
    const { records } = readJournalFile(path.join(work, outputDir))
    expect(records.filter((record) => record.type === 'issued')).toEqual([])
    expect(existsSync(path.join(work, outputDir, 'credbake-manifest.json'))).toBe(false)
  }
}

describe('the device manifest', () => {
  it('one byte over the cap: refused by its size before it is read', () => {
    const manifest = sparse('over-cap.csv', INPUT_LIMITS.manifest + 1)
    const run = cli(bakeArgs(manifest, 'o-cap'))
    expectRefused(run, [/Input "manifest": .*over-cap\.csv is 67,108,865 bytes; a device manifest may be at most 64 MiB/], 'o-cap')
  })

  it('past what V8 can hold as a string (once a stack trace): the same clear error', () => {
    const manifest = sparse('huge.json', 600 * MiB)
    const run = cli(bakeArgs(manifest, 'o-huge'))
    expectRefused(run, [/huge\.json is 629,145,600 bytes; a device manifest may be at most 64 MiB/], 'o-huge')
    expect(run.stderr).not.toMatch(/Cannot create a string/)
  })

  it('a FIFO is refused, not waited on; /dev/zero (through a link) is refused, not read', () => {
    expectRefused(cli(bakeArgs(fifo('pipe.csv'), 'o-fifo')), [/pipe\.csv is a FIFO \(named pipe\), not a regular file/], 'o-fifo')
    const zero = path.join(work, 'zero.yaml')
    symlinkSync('/dev/zero', zero)
    expectRefused(cli(bakeArgs(zero, 'o-zero')), [/zero\.yaml is a character device, not a regular file/], 'o-zero')
  })

  it('through the action: an annotation naming the input, exit 1, no stack trace', () => {
    const manifest = sparse('action-cap.jsonl', INPUT_LIMITS.manifest + 4096)
    const run = runAction({ manifest, 'fleet-ca-cert': ca.certPem, 'fleet-ca-key': ca.keyPem, 'output-dir': path.join(work, 'o-action') })
    expect(run.status).toBe(1)
    expect(run.stdout).toMatch(/^::error::Input "manifest": .*action-cap\.jsonl is 67,112,960 bytes; a device manifest may be at most 64 MiB/m)
    expect(run.stdout + run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/)
  })

  it('100,000-device manifests in every format stay well inside the cap (streamed to disk)', async () => {
    const sizes: Record<string, number> = {}
    for (const format of ['csv', 'json', 'jsonl', 'yaml'] as const) {
      const target = path.join(work, `fleet-100k.${format}`)
      const out = createWriteStream(target)
      const write = async (text: string): Promise<void> => {
        if (!out.write(text)) await once(out, 'drain')
      }
      if (format === 'csv') await write('serial,device-id,site,region,csr\n')
      if (format === 'json') await write('[\n')
      if (format === 'yaml') await write('devices:\n')
      for (let k = 0; k < 100_000; k++) {
        // A realistic row: serial, MAC device ID, two template fields and a CSR path.
        const row = {
          serial: `SN-2026-${String(k).padStart(7, '0')}`,
          'device-id': k
            .toString(16)
            .padStart(12, '0')
            .replace(/(..)(?!$)/g, '$1:'),
          site: `plant-${k % 37}-line-${k % 11}`,
          region: k % 2 ? 'eu-central-1' : 'us-east-2',
          csr: `csrs/SN-2026-${String(k).padStart(7, '0')}.csr`
        }
        if (format === 'csv') await write(`${Object.values(row).join(',')}\n`)
        if (format === 'jsonl') await write(`${JSON.stringify(row)}\n`)
        if (format === 'json') await write(`${JSON.stringify(row, null, 2).replace(/^/gm, '  ')}${k < 99_999 ? ',' : ''}\n`)
        if (format === 'yaml')
          await write(
            Object.entries(row)
              .map(([key, value], i) => `${i === 0 ? '  - ' : '    '}${key}: "${value}"\n`)
              .join('')
          )
      }
      if (format === 'json') await write(']\n')
      out.end()
      await once(out, 'close')
      sizes[format] = statSync(target).size
      rmSync(target)
    }
    for (const [format, size] of Object.entries(sizes)) expect(size, `${format}: ${(size / MiB).toFixed(1)} MiB`).toBeLessThan(INPUT_LIMITS.manifest / 2)
  }, 60_000)
})

describe('what the rows hold', () => {
  it('a 1.5 MB CSV whose 1,000-column header repeats into every row: refused at the device data budget', () => {
    const names = Array.from({ length: 999 }, (_, k) => `a-rather-long-column-name-of-the-inventory-export-${String(k).padStart(4, '0')}`)
    const rows = Array.from({ length: 1500 }, (_, k) => `S${k}${','.repeat(999)}`)
    const manifest = file('wide.csv', `serial,${names.join(',')}\n${rows.join('\n')}\n`)
    expect(statSync(manifest).size).toBeLessThan(1_600_000)
    const run = cli(bakeArgs(manifest, 'o-wide'))
    expectRefused(run, [/wide\.csv:\d+: the devices up to this row hold more than 64 Mi characters of field names and values, the most a manifest may hold/], 'o-wide')
  })
})

describe('YAML aliases and merges', () => {
  /** The issue's case: 3,000 devices, each merging one 3,000-key anchor (about 118 KB). */
  function aliasBomb(anchorAbove: boolean): string {
    const keys = Array.from({ length: 3000 }, (_, k) => `k${k}: v${k}`)
    const devices = Array.from({ length: 3000 }, (_, k) => `  - <<: *big\n    serial: S${k}`)
    return anchorAbove
      ? `defaults: &big\n${keys.map((key) => `  ${key}`).join('\n')}\ndevices:\n${devices.join('\n')}\n`
      : `- &big\n${keys.map((key) => `  ${key}`).join('\n')}\n  serial: S-first\n${devices.map((d) => d.slice(2).replace(/^ {4}/m, '  ')).join('\n')}\n`
  }

  it('3,000 devices merging a 3,000-key anchor: refused at the copy budget, in seconds and little memory', () => {
    for (const [name, above] of [
      ['bomb-above.yaml', true],
      ['bomb-inside.yaml', false]
    ] as const) {
      const text = aliasBomb(above)
      expect(text.length).toBeGreaterThan(100_000)
      expect(text.length).toBeLessThan(160_000)
      const run = cli(bakeArgs(file(name, text), `o-${name}`))
      expectRefused(
        run,
        [new RegExp(`${name.replace('.', '\\.')}:\\d+: YAML aliases and merges \\(<<: \\*anchor\\) have copied more than 2,000,000 fields and values`)],
        `o-${name}`
      )
    }
  })

  it('a chain of merges deeper than 64 is refused, not flattened', () => {
    const anchors = Array.from({ length: 300 }, (_, k) => (k === 0 ? 'a0: &a0\n  x0: v' : `a${k}: &a${k}\n  <<: *a${k - 1}\n  x${k}: v`))
    const text = `${anchors.join('\n')}\ndevices:\n  - <<: *a299\n    serial: S1\n`
    const run = cli(bakeArgs(file('chain.yaml', text), 'o-chain'))
    expectRefused(run, [/chain\.yaml:\d+: YAML merges \(<<\) nest more than 64 deep here/], 'o-chain')
  })

  it('YAML that needs a whole-document parse is read up to 1 MiB; past it, a clear refusal', () => {
    // A device list in flow style cannot be read in slices.
    const rows = Array.from({ length: 40_000 }, (_, k) => `  {serial: F${k}, site: plant-${k % 9}},`)
    const run = cli(bakeArgs(file('flow.yaml', `[\n${rows.join('\n')}\n]\n`), 'o-flow'))
    expectRefused(run, [/flow\.yaml:1: this YAML \(1\.\d Mi characters\) must be read as one document .* at most 1 MiB/], 'o-flow')
  })
})

describe('csr files named by manifest rows', () => {
  it('a FIFO, /dev/zero and a 1 MB file: refused with the row, before any certificate is issued', () => {
    const pipe = fifo('device.csr')
    sparse('big.csr', 1_000_000)
    const manifest = file('csrs.csv', `serial,csr\nOK-1,\nP-1,${pipe}\nZ-1,/dev/zero\nB-1,big.csr\n`)
    const run = cli(bakeArgs(manifest, 'o-csr'))
    expectRefused(
      run,
      [
        /csrs\.csv:3: csr ".*device\.csr" is a FIFO \(named pipe\), not a regular file/,
        /csrs\.csv:4: csr "\/dev\/zero" is a character device, not a regular file/,
        /csrs\.csv:5: csr ".*big\.csr" is 1,000,000 bytes; a CSR may be at most 16 KiB/
      ],
      'o-csr'
    )
  })

  it('a missing CSR is found when the manifest is read, too', () => {
    const run = cli(bakeArgs(file('missing-csr.csv', 'serial,csr\nOK-1,\nM-1,nowhere.csr\n'), 'o-missing'))
    expectRefused(run, [/missing-csr\.csv:3: csr ".*nowhere\.csr" not found/], 'o-missing')
  })
})

describe('other inputs read whole', () => {
  const manifest = (): string => file('one.csv', 'serial\nA1\n')

  it('fleet-ca-cert over 1 MiB, fleet-ca-key a FIFO, server-ca /dev/zero, credentials-zip a FIFO', () => {
    const bigCert = sparse('big-ca.pem', INPUT_LIMITS.pem + 1)
    let run = cli(['bake', '--manifest', manifest(), '--fleet-ca-cert', bigCert, '--fleet-ca-key', ca.keyPath, '--output-dir', path.join(work, 'o-pem1')])
    expectRefused(run, [/Input "fleet-ca-cert": .*big-ca\.pem is 1,048,577 bytes; a PEM file may be at most 1 MiB/], 'o-pem1')

    run = cli(['bake', '--manifest', manifest(), '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', fifo('key.pem'), '--output-dir', path.join(work, 'o-pem2')])
    // A key's path is not shown (it may be a secret pasted in the wrong place).
    expectRefused(run, [/Input "fleet-ca-key": the given path is a FIFO \(named pipe\), not a regular file/], 'o-pem2')

    run = cli(bakeArgs(manifest(), 'o-pem3', ['--server-ca', '/dev/zero']))
    expectRefused(run, [/Input "server-ca": \/dev\/zero is a character device, not a regular file/], 'o-pem3')

    run = cli(bakeArgs(manifest(), 'o-zip', ['--credentials-zip', fifo('credentials.zip')]))
    expectRefused(run, [/Input "credentials-zip" \(.*credentials\.zip\): cannot read it: is a FIFO \(named pipe\)/], 'o-zip')
  })

  it('PEM text over 1 MiB given as the input itself (only a library caller can: Linux limits one variable or argument to 128 KiB)', () => {
    const inputs = { manifest: manifest(), 'fleet-ca-cert': `${ca.certPem}\n${'#'.repeat(INPUT_LIMITS.pem)}`, 'fleet-ca-key': ca.keyPem }
    expect(() => parseSettings(inputs, { baseDir: work })).toThrow(/Input "fleet-ca-cert" holds 1,049,\d{3} characters of text; PEM inputs may be at most 1 MiB/)
  })

  it('verify and merge: a review manifest that is a FIFO or over its cap', () => {
    let run = cli(['verify', '--manifest', fifo('review.json'), '--fleet-ca-cert', ca.certPath])
    expectRefused(run, [/manifest .*review\.json cannot be read: it is a FIFO \(named pipe\)/])
    run = cli(['verify', '--manifest', sparse('big-review.json', INPUT_LIMITS.reviewFile + 1), '--fleet-ca-cert', ca.certPath])
    expectRefused(run, [/big-review\.json cannot be read: it is 268,435,457 bytes; a review manifest may be at most 256 MiB/])
    run = cli(['merge', '--output-dir', path.join(work, 'o-merge'), fifo('shard-1.json'), file('shard-2.json', '{}')])
    expectRefused(run, [/shard-1\.json cannot be read: it is a FIFO \(named pipe\)/])
  })
})
