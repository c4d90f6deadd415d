// Issue 17, item 4: outputs verify must not trust. dir trees and tar overlays with links (one to /
// must not make verify walk the host), folders of the wrong mode or owner, extra entries, special
// files; and overlays that decompress to far more than they should (gzip bombs), whose cost in
// memory must stay that of a real overlay: the child's peak RSS (VmHWM) is measured. Everything
// through node dist/cli.js; exit 7 and a finding naming the device and what differs.
import { chmodSync, chownSync, cpSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCliAsync, type ChildResult } from '../helpers/faults.js'
import { cleanupScratch, run, scratchDir } from '../helpers/images.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { ROOT } from '../helpers/run.js'

const CRED = '/var/sota/import'
const asRoot = process.getuid?.() === 0

let work: string
let fleet: CaFixture
let dir: string
let tar: string

async function bake(name: string, serials: string[], format: 'dir' | 'tar'): Promise<string> {
  const devices = path.join(work, `${name}.csv`)
  writeFileSync(devices, `serial\n${serials.join('\n')}\n`)
  const out = path.join(work, name)
  const result = await runCliAsync([
    'bake',
    '--manifest',
    devices,
    '--fleet-ca-cert',
    fleet.certPath,
    '--fleet-ca-key',
    fleet.keyPath,
    '--format',
    format,
    '--gateway-url',
    'https://gw.example.com',
    '--output-dir',
    out
  ])
  expect(result.status, result.stderr).toBe(0)
  return out
}

beforeAll(async () => {
  work = await scratchDir('credbake-verify-outputs-')
  fleet = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Outputs Fleet Root' })
  dir = await bake('dir', ['TD-01', 'TD-02'], 'dir')
  tar = await bake('tar', ['TT-01', 'TT-02'], 'tar')
})

afterAll(async () => {
  cleanupPki()
  await cleanupScratch()
})

let copies = 0
function copyOf(from: string): string {
  const copy = path.join(work, `copy-${copies++}`)
  cpSync(from, copy, { recursive: true, verbatimSymlinks: true })
  return copy
}

function verify(out: string, env: Record<string, string> = {}): Promise<ChildResult> {
  return runCliAsync(['verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', fleet.certPath], { env })
}

/** Verify fails exactly `serials`; their lines by serial. */
async function failed(out: string, serials: string[], env: Record<string, string> = {}): Promise<Map<string, string>> {
  const result = await verify(out, env)
  expect(result.status, result.stdout + result.stderr).toBe(7)
  const lines = result.stdout.split('\n').filter((l) => /^T[DT]-\d\d: /.test(l))
  const bySerial = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')), l]))
  expect([...bySerial.keys()]).toEqual(serials)
  return bySerial
}

describe('dir trees', () => {
  it('a fresh bake passes', async () => {
    const result = await verify(dir)
    expect(result.stdout).toBe('verified 2 devices: 2 passed, 0 failed\n')
    expect(result.status).toBe(0)
  })

  it('a link to / in the credentials folder is reported, never followed', async () => {
    const copy = copyOf(dir)
    symlinkSync('/', path.join(copy, 'devices', 'TD-01', CRED, 'host-root'))
    const lines = await failed(copy, ['TD-01'])
    expect(lines.get('TD-01')).toContain(`${CRED}/host-root is a symbolic link (to "/"); verify does not follow links, and credbake writes none`)
    // Followed, the tree digest would have read the host: it is not computed at all.
    expect(lines.get('TD-01')).not.toContain('has SHA-256')
  })

  it('a folder of the tree replaced by a link, and the output itself a link', async () => {
    const copy = copyOf(dir)
    const var1 = path.join(copy, 'devices', 'TD-01', 'var')
    renameSync(var1, path.join(copy, 'elsewhere'))
    symlinkSync('../../elsewhere', var1)
    rmSync(path.join(copy, 'devices', 'TD-02'), { recursive: true })
    symlinkSync('TD-01', path.join(copy, 'devices', 'TD-02'))
    const lines = await failed(copy, ['TD-01', 'TD-02'])
    expect(lines.get('TD-01')).toContain('/var is a symbolic link (to "../../elsewhere")')
    expect(lines.get('TD-01')).toContain('client.pem is missing')
    expect(lines.get('TD-02')).toBe('TD-02: output devices/TD-02 is a symbolic link (to "TD-01"); verify does not follow links')
  })

  it("output-dir's devices/ folder a link elsewhere", async () => {
    const copy = copyOf(dir)
    renameSync(path.join(copy, 'devices'), path.join(copy, 'real-devices'))
    symlinkSync('real-devices', path.join(copy, 'devices'))
    const lines = await failed(copy, ['TD-01', 'TD-02'])
    expect(lines.get('TD-01')).toBe('TD-01: devices/ in output-dir is a symbolic link (to "real-devices"); verify does not follow links')
  })

  it('a 0777 credentials folder, a 0700 top folder', async () => {
    const copy = copyOf(dir)
    chmodSync(path.join(copy, 'devices', 'TD-02', CRED), 0o777)
    chmodSync(path.join(copy, 'devices', 'TD-01'), 0o700)
    const lines = await failed(copy, ['TD-01', 'TD-02'])
    expect(lines.get('TD-02')).toBe(`TD-02: folder ${CRED} has mode 0777, credbake writes 0755`)
    expect(lines.get('TD-01')).toBe("TD-01: the top folder of the tree (the device's /) has mode 0700, credbake writes 0755")
  })

  it.runIf(asRoot)('a credentials folder owned by uid 1234 (verify running as root compares owners)', async () => {
    const copy = copyOf(dir)
    chownSync(path.join(copy, 'devices', 'TD-01', CRED), 1234, 0)
    const lines = await failed(copy, ['TD-01'])
    expect(lines.get('TD-01')).toBe(`TD-01: folder ${CRED} is owned by 1234:0, credbake writes 0:0`)
  })

  it('an extra folder, an extra file outside the credentials folder, a named pipe', async () => {
    const copy = copyOf(dir)
    mkdirSync(path.join(copy, 'devices', 'TD-01', 'etc'))
    writeFileSync(path.join(copy, 'devices', 'TD-01', 'var', 'sota', 'sota.toml'), '[provision]\n')
    run('mkfifo', [path.join(copy, 'devices', 'TD-02', CRED, 'pipe')])
    const lines = await failed(copy, ['TD-01', 'TD-02'])
    expect(lines.get('TD-01')).toContain('etc/ in / is not in the manifest (an extra folder)')
    expect(lines.get('TD-01')).toContain('sota.toml in /var/sota is not in the manifest (an extra file)')
    expect(lines.get('TD-02')).toBe(`TD-02: ${CRED}/pipe is a named pipe`)
  })
})

describe('tar overlays', () => {
  /** Unpack an overlay, let `change` edit the tree, pack it again with GNU tar as root-owned entries. */
  function repack(out: string, serial: string, change: (tree: string) => void): void {
    const archive = path.join(out, 'overlays', `${serial}.tar.gz`)
    const tree = path.join(work, `unpacked-${copies++}`)
    mkdirSync(tree)
    run('tar', ['-xzpf', archive, '-C', tree])
    change(tree)
    run('tar', ['-czf', archive, '--owner=0', '--group=0', '--numeric-owner', '-C', tree, 'var'])
    rmSync(tree, { recursive: true, force: true })
  }

  it('a fresh bake passes', async () => {
    const result = await verify(tar)
    expect(result.stdout).toBe('verified 2 devices: 2 passed, 0 failed\n')
    expect(result.status).toBe(0)
  })

  it('a 0777 folder entry, a link to /, an extra file', async () => {
    const copy = copyOf(tar)
    repack(copy, 'TT-01', (tree) => {
      chmodSync(path.join(tree, CRED), 0o777)
      symlinkSync('/', path.join(tree, CRED, 'host-root'))
      writeFileSync(path.join(tree, 'var', 'sota', 'extra.txt'), 'x\n')
    })
    const lines = await failed(copy, ['TT-01'])
    expect(lines.get('TT-01')).toContain(`folder ${CRED} has mode 0777, credbake writes 0755`)
    expect(lines.get('TT-01')).toContain(`${CRED}/host-root is a symbolic link (to "/"); credbake writes none`)
    expect(lines.get('TT-01')).toContain('extra.txt in /var/sota is not in the manifest (an extra file)')
  })
})

/** The child's peak resident set in MiB, printed by bench/peak-rss.cjs at its exit (VmHWM, every thread). */
function peakRssMiB(result: ChildResult): number {
  const match = /credbake-peak-rss-kib: (\d+)/.exec(result.stderr)
  expect(match, result.stderr).not.toBeNull()
  return Number(match![1]) / 1024
}

describe('gzip bombs', () => {
  const measured = { NODE_OPTIONS: `--require ${path.join(ROOT, 'bench', 'peak-rss.cjs')}` }
  let bomb1g: string
  let bomb512m: string
  let baseline: number

  beforeAll(() => {
    // 1 GiB of zeros at gzip -1: about 4.5 MB; 512 MiB at gzip -9: about 0.5 MB, small enough to
    // be read, so that only the cap on decompression stands between it and 512 MiB of memory.
    bomb1g = path.join(work, 'bomb-1g.tar.gz')
    bomb512m = path.join(work, 'bomb-512m.tar.gz')
    run('sh', ['-c', `head -c 1073741824 /dev/zero | gzip -1 > '${bomb1g}' && head -c 536870912 /dev/zero | gzip -9 > '${bomb512m}'`])
  })

  it('a fresh overlay verifies in the memory the bombs below are held to', async () => {
    const result = await verify(tar, measured)
    expect(result.status, result.stderr).toBe(0)
    baseline = peakRssMiB(result)
    expect(baseline).toBeLessThan(256)
  })

  it.each([
    [
      '1 GiB of zeros, 4 MB of gzip',
      () => bomb1g,
      /output overlays\/TT-02\.tar\.gz is \d+ bytes, more than an overlay of the files the manifest lists can be \(at most \d+\); verify does not open it/
    ],
    [
      '512 MiB of zeros, 0.5 MB of gzip',
      () => bomb512m,
      /output overlays\/TT-02\.tar\.gz decompresses to more than \d+ bytes, more than an overlay of the files the manifest lists can hold; verify stopped there/
    ]
  ])('%s: fails with a clear finding, in no more memory than a real overlay', async (_name, bomb, finding) => {
    const copy = copyOf(tar)
    writeFileSync(path.join(copy, 'overlays', 'TT-02.tar.gz'), readFileSync(bomb()))
    const lines = await failed(copy, ['TT-02'], measured)
    expect(lines.get('TT-02')).toMatch(finding)
    expect(lines.get('TT-02')).toMatch(/output overlays\/TT-02\.tar\.gz has SHA-256 [0-9a-f]{64}, the manifest records [0-9a-f]{64}/)
    // Decompressed whole, the bomb would take 512 MiB or more; as checked, what a real overlay takes.
    const peak = peakRssMiB(await verify(copy, measured))
    expect(peak).toBeLessThan(Math.max(baseline * 1.5, baseline + 64))
  })
})
