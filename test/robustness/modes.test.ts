// Issue 7, item 4: every output that holds a device private key is 0600 whatever the umask, and so
// is every temporary file it passes through; review files (manifest, certificates.pem,
// superseded.pem, journal, SHA256SUMS) are 0644 whatever the umask.
//
// The CLI is run the way a user runs it, under `sh -c 'umask 000; exec node dist/cli.js bake ...'`
// (a vitest worker cannot set its own umask reliably). While it runs, the output-dir and the secret
// temp root (TMPDIR) are watched (fs.watch plus a tight polling loop, best effort: an entry that lives
// shorter than one poll can be missed) and every entry seen is stat-ed; the widest mode seen for
// each path is what is judged. Final modes are checked with fs.stat. The copy and compression
// functions are also called directly on a base image made 0666, so a mode taken over from the
// source (copyFile/reflink) or a fixed 0644 shows deterministically.
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, watch, writeFileSync, type FSWatcher } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compressFile, decompressToSparse, prepareBaseImage } from '../../src/image/compress.js'
import { copyImage, extractRange, ImageCopier } from '../../src/image/copy.js'
import { buildGptImage, cleanupScratch, compressWithTool, MiB, scratchDir, type BuiltImage } from '../helpers/images.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { isMountPoint, unmount } from '../helpers/faults.js'
import { CLI, NODE20 } from '../helpers/run.js'

const GATEWAY = 'https://gateway.example.com:8443'
const SERIALS = ['MD-1', 'MD-2']

let work: string
let ca: CaFixture
let serverCa: CaFixture
let manifest: string
let gpt: BuiltImage
/** The same base, xz-compressed (decompressed by credbake into its secret temp folder). */
let gptXz: string

/** Review files: no secret, 0644 whatever the umask. Matched on the name without a temp suffix. */
const REVIEW = new Set(['credbake-manifest.json', 'certificates.pem', 'superseded.pem', 'credbake-journal.jsonl', 'SHA256SUMS'])
/** Neither key nor review file: the lock (pid and host) at most 0644. */
const OTHER = /^\.?credbake\.lock/
/** The private folder a reflink clone is made in (src/image/copy.ts), 0700. */
const REFLINK = /^\.credbake-reflink\.tmp-/
/** output-dir's writability probe: empty and removed at once, so its mode does not matter. */
const PROBE = /^\.credbake-probe/

beforeAll(async () => {
  work = await scratchDir('credbake-modes-')
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Modes Fleet CA' })
  serverCa = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Modes server CA' })
  manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, `serial\n${SERIALS.join('\n')}\n`)
  // Small: 8 MiB rootfs (plus the 40 MiB FAT32 boot partition), sparse.
  gpt = await buildGptImage(work, { rootSize: 8 * MiB })
  gptXz = compressWithTool(gpt.path, 'xz')
  // A wide base: a copy that takes over the source's mode (copyFile, reflink) would be 0666.
  chmodSync(gpt.path, 0o666)
  chmodSync(gptXz, 0o666)
})

afterAll(async () => {
  cleanupPki()
  await cleanupScratch()
})

interface Seen {
  /** Widest permission bits seen for each path (relative to its root, prefixed "out/" or "tmp/"). */
  modes: Map<string, number>
  dirs: Set<string>
}

function record(seen: Seen, root: string, prefix: string, name: string): void {
  try {
    const info = statSync(path.join(root, name))
    const key = `${prefix}/${name}`
    seen.modes.set(key, (seen.modes.get(key) ?? 0) | (info.mode & 0o7777))
    if (info.isDirectory()) seen.dirs.add(key)
  } catch {
    // gone already
  }
}

function listAll(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' })
  } catch {
    return []
  }
}

/** Run `credbake bake ARGS` under `umask`, watching `out` and `tmp` (TMPDIR of the child). */
async function bakeUnder(
  umask: '000' | '077',
  args: string[],
  out: string,
  tmp: string,
  options: { createOut?: boolean } = {}
): Promise<{ status: number | null; output: string; seen: Seen }> {
  // Made here (so it can be watched from the start) unless the test is about credbake making it.
  if (options.createOut !== false) mkdirSync(out, { recursive: true })
  mkdirSync(tmp, { recursive: true })
  const seen: Seen = { modes: new Map(), dirs: new Set() }
  // Node 20's recursive fs.watch throws (uncaught) when a folder vanishes while it scans it, so
  // every folder seen gets a plain watcher of its own; the polling loop below finds the folders.
  const watchers = new Map<string, FSWatcher>()
  const watchFolder = (root: string, prefix: string, name: string): void => {
    const folder = path.join(root, name)
    if (watchers.has(folder)) return
    try {
      const watcher = watch(folder, (_event, file) => file && record(seen, root, prefix, path.join(name, file.toString())))
      watcher.on('error', () => undefined)
      watchers.set(folder, watcher)
    } catch {
      // gone already
    }
  }
  watchFolder(out, 'out', '')
  watchFolder(tmp, 'tmp', '')
  const child = spawn('sh', ['-c', `umask ${umask}; exec "$0" "$@"`, NODE20, CLI, 'bake', ...args, '--output-dir', out], {
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  let running = true
  const done = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (status) => {
      running = false
      resolve(status)
    })
  })
  while (running) {
    for (const [root, prefix] of [
      [out, 'out'],
      [tmp, 'tmp']
    ] as const) {
      for (const name of listAll(root)) {
        record(seen, root, prefix, name)
        if (seen.dirs.has(`${prefix}/${name}`)) watchFolder(root, prefix, name)
      }
    }
    await new Promise((resolve) => setImmediate(resolve))
  }
  const status = await done
  for (const watcher of watchers.values()) watcher.close()
  for (const name of listAll(out)) record(seen, out, 'out', name)
  return { status, output, seen }
}

/** "image/.MD-1.img.tmp-12-ab" -> "MD-1.img" */
function finalName(key: string): string {
  const base = path.basename(key)
  const temp = /^\.(.+)\.tmp-\d+-[0-9a-f]+$/.exec(base)
  return temp ? temp[1]! : base
}

const octal = (mode: number): string => mode.toString(8).padStart(4, '0')

/**
 * Entries seen with a mode wider than allowed. Folders: never group/other-writable; in the secret
 * temp root and the reflink folder exactly 0700. Files: review files at most 0644; in a dir output the bundle's public
 * files (client.pem, root.crt, gateway.url) at most 0644; everything else (outputs, their temp
 * files, the secret temp folder's files) at most 0600.
 */
function tooWide(seen: Seen, format: string): string[] {
  const wrong: string[] = []
  for (const [key, mode] of seen.modes) {
    const name = finalName(key)
    if (seen.dirs.has(key)) {
      const privateFolder = key.startsWith('tmp/') || REFLINK.test(path.basename(key))
      if (privateFolder ? mode !== 0o700 : (mode & 0o022) !== 0) wrong.push(`${octal(mode)} dir ${key}`)
      continue
    }
    if (key.startsWith('out/') && PROBE.test(path.basename(key))) continue
    // A reflink clone takes the base's mode until narrowed; nobody else can open it in its 0700
    // folder (checked above), and it holds only the base (no key) then.
    if (REFLINK.test(path.basename(path.dirname(key)))) continue
    const publicFile =
      key.startsWith('out/') &&
      (REVIEW.has(name) ||
        OTHER.test(path.basename(key)) ||
        name.endsWith('.bmap') || // a block map: offsets and digests, nothing of the key
        (format === 'dir' && key.startsWith('out/devices/') && !/(pkey|key)\.pem$/.test(name)))
    const limit = publicFile ? 0o644 : 0o600
    if ((mode & ~limit & 0o7777) !== 0) wrong.push(`${octal(mode)} file ${key}`)
  }
  return wrong.sort()
}

function modeOf(file: string): string {
  return octal(statSync(file).mode & 0o7777)
}

interface Case {
  name: string
  args: string[]
  /** Output files that hold a device key, relative to output-dir. */
  outputs: string[]
}

const CASES: Case[] = [
  { name: 'tar', args: ['--format', 'tar'], outputs: SERIALS.map((s) => `overlays/${s}.tar.gz`) },
  { name: 'dir', args: ['--format', 'dir'], outputs: SERIALS.map((s) => `devices/${s}/var/sota/import/pkey.pem`) },
  { name: 'image', args: ['--format', 'image'], outputs: SERIALS.map((s) => `images/${s}.img`) },
  { name: 'image gz', args: ['--format', 'image', '--compress', 'gz'], outputs: SERIALS.map((s) => `images/${s}.img.gz`) },
  { name: 'image xz, from an xz base', args: ['--format', 'image', '--compress', 'xz', '--image-xz'], outputs: SERIALS.map((s) => `images/${s}.img.xz`) },
  { name: 'image zst', args: ['--format', 'image', '--compress', 'zst'], outputs: SERIALS.map((s) => `images/${s}.img.zst`) },
  { name: 'partition (ext4, debugfs)', args: ['--format', 'partition', '--partition', 'label=rootfs'], outputs: SERIALS.map((s) => `partitions/${s}.img`) },
  { name: 'partition zst (FAT, mtools)', args: ['--format', 'partition', '--partition', 'label=BOOT', '--compress', 'zst'], outputs: SERIALS.map((s) => `partitions/${s}.img.zst`) }
]

function bakeArgs(c: Case): string[] {
  const args = ['--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--server-ca', serverCa.certPath, '--gateway-url', GATEWAY]
  const own = c.args.filter((a) => a !== '--image-xz')
  if (c.args.includes('--image-xz')) args.push('--image', gptXz)
  else if (c.name.startsWith('image') || c.name.startsWith('partition')) args.push('--image', gpt.path)
  return [...args, ...own]
}

describe.each(['000', '077'] as const)('umask %s', (umask) => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s: key-holding outputs and their temp files 0600, review files 0644', async (name, c) => {
    const id = `${umask}-${name.replace(/[^a-z0-9]+/gi, '-')}`
    const out = path.join(work, `out-${id}`)
    const tmp = path.join(work, `tmp-${id}`)
    const run = await bakeUnder(umask, bakeArgs(c), out, tmp)
    expect(run.status, run.output).toBe(0)

    for (const output of c.outputs) expect(modeOf(path.join(out, output)), output).toBe('0600')
    for (const review of REVIEW) {
      const file = path.join(out, review)
      if (review === 'SHA256SUMS' && !existsSync(file)) continue
      expect(modeOf(file), review).toBe('0644')
    }
    if (c.name === 'dir') {
      // The tree is what `cp -a` / rsync puts on the device: folders 0755, public files 0644.
      for (const serial of SERIALS) {
        const root = path.join(out, 'devices', serial)
        for (const folder of ['', 'var', 'var/sota', 'var/sota/import']) expect(modeOf(path.join(root, folder)), `devices/${serial}/${folder}`).toBe('0755')
        for (const file of ['client.pem', 'root.crt', 'gateway.url']) expect(modeOf(path.join(root, 'var/sota/import', file)), file).toBe('0644')
      }
    }
    // Folders credbake made for outputs are never writable by others.
    for (const folder of ['overlays', 'devices', 'images', 'partitions']) {
      const dir = path.join(out, folder)
      if (existsSync(dir)) expect(statSync(dir).mode & 0o022, `${folder}/ is ${modeOf(dir)}`).toBe(0)
    }
    // The secret temp folder is gone; while it was there, it was 0700 and its files 0600.
    expect(readdirSync(tmp)).toEqual([])
    // The watch saw the run's temporaries: the secret folder always; for images the work copies
    // too (they live while debugfs/mtools write), so the judgement below is not of nothing.
    const seenKeys = [...run.seen.modes.keys()]
    expect(
      seenKeys.some((key) => /^tmp\/credbake-/.test(key)),
      'the secret temp folder was seen'
    ).toBe(true)
    if (!['tar', 'dir'].includes(c.name))
      expect(
        seenKeys.some((key) => /^out\/(images|partitions)\/\..+\.tmp-/.test(key)),
        'a work copy was seen'
      ).toBe(true)
    expect(tooWide(run.seen, c.name)).toEqual([])
  })
})

describe('output-dir made by credbake', () => {
  it('is not writable by others under umask 000 (nor its parents credbake makes)', async () => {
    const parent = await scratchDir('credbake-modes-outdir-')
    const out = path.join(parent, 'new', 'out')
    const args = ['--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--format', 'tar']
    const run = await bakeUnder('000', args, out, path.join(parent, 'tmp'), { createOut: false })
    expect(run.status, run.output).toBe(0)
    for (const dir of [path.join(parent, 'new'), out, path.join(out, 'overlays')]) expect(modeOf(dir), dir).toBe('0755')
    for (const serial of SERIALS) expect(modeOf(path.join(out, 'overlays', `${serial}.tar.gz`))).toBe('0600')
  })
})

describe('copies and compressed files made from a 0666 base are 0600 (umask of this process)', () => {
  it('ImageCopier.copyTo (reflink attempted, then sparse) and its sparse path, a new and an existing destination', async () => {
    const dir = await scratchDir('credbake-modes-copy-')
    const copier = await ImageCopier.open(gpt.path)
    const first = path.join(dir, 'a.img')
    await copier.copyTo(first)
    expect(modeOf(first)).toBe('0600')
    const existing = path.join(dir, 'b.img')
    writeFileSync(existing, 'old', { mode: 0o644 })
    chmodSync(existing, 0o644)
    await (await ImageCopier.open(gpt.path, { noReflink: true })).copyTo(existing)
    expect(modeOf(existing)).toBe('0600')
    const oneOff = path.join(dir, 'c.img')
    await copyImage(gpt.path, oneOff)
    expect(modeOf(oneOff)).toBe('0600')
    // The copier's folder holds nothing but the copies (no private folder left behind).
    expect(readdirSync(dir).sort()).toEqual(['a.img', 'b.img', 'c.img'])
  })

  it('extractTo / extractRange (partition outputs)', async () => {
    const dir = await scratchDir('credbake-modes-extract-')
    const part = gpt.part('rootfs')
    const a = path.join(dir, 'p.img')
    await (await ImageCopier.open(gpt.path)).extractTo(a, part.start, part.size)
    expect(modeOf(a)).toBe('0600')
    const b = path.join(dir, 'q.img')
    writeFileSync(b, '')
    chmodSync(b, 0o666)
    await extractRange(gpt.path, b, part.start, part.size)
    expect(modeOf(b)).toBe('0600')
  })

  it.each(['gz', 'xz', 'zst'] as const)('compressFile %s, into a new and an existing destination', async (kind) => {
    const dir = await scratchDir('credbake-modes-compress-')
    const fresh = path.join(dir, `new.img.${kind}`)
    await compressFile(gpt.path, fresh, kind)
    expect(modeOf(fresh)).toBe('0600')
    const existing = path.join(dir, `old.img.${kind}`)
    writeFileSync(existing, '')
    chmodSync(existing, 0o644)
    await compressFile(gpt.path, existing, kind)
    expect(modeOf(existing)).toBe('0600')
  })

  it('decompressToSparse and prepareBaseImage (the decompressed base: folder 0700, file 0600)', async () => {
    const dir = await scratchDir('credbake-modes-decompress-')
    const dest = path.join(dir, 'base.img')
    writeFileSync(dest, '')
    chmodSync(dest, 0o644)
    await decompressToSparse(gptXz, dest, 'xz')
    expect(modeOf(dest)).toBe('0600')
    const prepared = await prepareBaseImage(gptXz, dir)
    try {
      expect(modeOf(prepared.path)).toBe('0600')
      expect(modeOf(path.dirname(prepared.path))).toBe('0700')
    } finally {
      await prepared.cleanup()
    }
  })
})

/**
 * Mount a fresh XFS with reflink on `dir` (a loop device; needs root and xfsprogs). Returns why it
 * could not, or undefined.
 */
function mountReflinkFs(image: string, dir: string): string | undefined {
  mkdirSync(dir, { recursive: true })
  if (process.getuid?.() !== 0) return 'not root: a loop mount needs root'
  const made = spawnSync('mkfs.xfs', ['-q', '-f', '-m', 'reflink=1', image], { encoding: 'utf8' })
  if (made.status !== 0) return `mkfs.xfs: ${(made.stderr || made.error?.message || '').trim()} (package xfsprogs)`
  const mounted = spawnSync('mount', ['-o', 'loop', image, dir], { encoding: 'utf8' })
  if (mounted.status !== 0) return `mount -o loop: ${(mounted.stderr || mounted.error?.message || '').trim()}`
  return undefined
}

describe('reflink copies (XFS with reflink=1 on a loop device; skipped where that cannot be mounted)', () => {
  let mnt: string
  let why: string | undefined

  beforeAll(async () => {
    const dir = await scratchDir('credbake-modes-xfs-')
    const image = path.join(dir, 'xfs.img')
    writeFileSync(image, '')
    spawnSync('truncate', ['-s', '320M', image])
    mnt = path.join(dir, 'mnt')
    why = mountReflinkFs(image, mnt)
  })

  afterAll(() => {
    if (mnt && isMountPoint(mnt)) unmount(mnt)
  })

  it('copyTo clones a 0666 base into a 0600 copy and leaves no private folder behind', async (ctx) => {
    if (why) ctx.skip(why)
    const base = path.join(mnt, 'base.img')
    spawnSync('cp', ['--sparse=always', gpt.path, base])
    chmodSync(base, 0o666)
    const out = path.join(mnt, 'copies')
    mkdirSync(out)
    const copier = await ImageCopier.open(base)
    expect(await copier.copyTo(path.join(out, 'a.img'))).toBe('reflink')
    const existing = path.join(out, 'b.img')
    writeFileSync(existing, 'old')
    chmodSync(existing, 0o644)
    expect(await copier.copyTo(existing)).toBe('reflink')
    for (const name of ['a.img', 'b.img']) {
      expect(modeOf(path.join(out, name)), name).toBe('0600')
      expect(statSync(path.join(out, name)).size).toBe(gpt.size)
    }
    expect(readdirSync(out).sort()).toEqual(['a.img', 'b.img'])
  })

  it.for(['000', '077'] as const)('bake --format image onto it under umask %s: outputs 0600, the clone only ever wide inside its 0700 folder', async (umask, ctx) => {
    if (why) ctx.skip(why)
    const base = path.join(mnt, `base-${umask}.img`)
    spawnSync('cp', ['--sparse=always', gpt.path, base])
    chmodSync(base, 0o666)
    const out = path.join(mnt, `out-${umask}`)
    const args = ['--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--format', 'image', '--image', base]
    const run = await bakeUnder(umask, args, out, path.join(mnt, `tmp-${umask}`))
    expect(run.status, run.output).toBe(0)
    for (const serial of SERIALS) expect(modeOf(path.join(out, 'images', `${serial}.img`))).toBe('0600')
    // The copies were clones, not sparse copies: their extents are shared with the base.
    for (const serial of SERIALS) {
      const extents = spawnSync('filefrag', ['-v', path.join(out, 'images', `${serial}.img`)], { encoding: 'utf8' }).stdout
      expect(extents, `${serial}.img shares extents with the base`).toMatch(/\bshared\b/)
    }
    expect(tooWide(run.seen, 'image')).toEqual([])
  })
})
