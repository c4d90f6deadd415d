// `format: image` and `format: partition` end to end: the bundled action (`node dist/index.js`, as a
// runner runs it) and the CLI (`node dist/cli.js`) bake real images built here with sfdisk, fdisk,
// mkfs.ext4 and mkfs.vfat, and everything is checked with tools that share no code with credbake:
// sha256sum, e2fsck -fn, fsck.vfat -n, debugfs cat/stat/ls, mcopy, zstd/gzip/xz, openssl-made CAs,
// node:crypto, and a byte comparison of every output against the base image outside the partition.
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  allocatedBytes,
  buildBareExt4,
  buildGpt4kImage,
  buildGptImage,
  buildMbrImage,
  cleanupScratch,
  compressWithTool,
  debugfsCat,
  debugfsStat,
  extractBytes,
  fdiskList,
  fsckVfat,
  mcopyRead,
  MiB,
  nodeNumber,
  readBytes,
  run,
  runStatus,
  scratchDir,
  sfdiskJson,
  type BuiltImage,
  type BuiltPartition
} from '../helpers/images.js'
import { readValidManifest } from '../helpers/manifest-schema.js'
import { splitPems } from '../helpers/outputs.js'
import { cleanupPki, makeIntermediateCa, makeRootCa, opensslVerify, type CaFixture } from '../helpers/pki.js'
import { NODES, runAction, runCli, type ActionRun } from '../helpers/run.js'

const GATEWAY = 'https://gateway.example.com:8443'
const CRED_DIR = '/var/sota/import'

let work: string
let root: CaFixture
let fleet: CaFixture
let serverCa: CaFixture
let manifest: string
let gpt: BuiltImage
let mbr: BuiltImage
/** sha256sum of each base image before any run; compared again in afterAll. */
const baseSums = new Map<string, string>()
/** A `format: dir` run with the same inputs: the reference tree (paths and modes). */
let dirRef: string

function sha256sum(file: string): string {
  return run('sha256sum', [file]).split(' ')[0]!
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

function remember(...files: string[]): void {
  for (const file of files) baseSums.set(file, sha256sum(file))
}

beforeAll(async () => {
  work = await scratchDir('credbake-e2e-images-')
  root = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Acme Fleet Root/O=Acme' })
  fleet = makeIntermediateCa(root, { keyType: 'ec-p256', subject: '/CN=Acme Fleet Issuing CA/O=Acme' })
  serverCa = makeRootCa({ keyType: 'ec-p256', subject: '/CN=OTA server CA' })
  manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, 'serial,device-id\nSN-0001,\nSN-0002,aa:bb:cc:dd:ee:02\n')
  gpt = await buildGptImage(work, { rootSize: 24 * MiB })
  mbr = await buildMbrImage(work)
  remember(gpt.path, mbr.path)
  const ref = runCli(['bake', ...common(), '--format', 'dir', '--output-dir', path.join(work, 'ref-dir')])
  expect(ref.status, ref.stdout + ref.stderr).toBe(0)
  dirRef = path.join(work, 'ref-dir')
})

afterAll(async () => {
  // The base images were only ever read.
  for (const [file, sum] of baseSums) expect(sha256sum(file), file).toBe(sum)
  cleanupPki()
  await cleanupScratch()
})

/** CLI flags every bake here shares. */
function common(): string[] {
  return ['--manifest', manifest, '--fleet-ca-cert', fleet.chainPath, '--fleet-ca-key', fleet.keyPath, '--server-ca', serverCa.certPath, '--gateway-url', GATEWAY]
}

/** Action inputs every bake here shares. */
function inputs(extra: Record<string, string>): Record<string, string> {
  return { manifest, 'fleet-ca-cert': fleet.chainPem, 'fleet-ca-key': fleet.keyPem, 'server-ca': serverCa.certPem, 'gateway-url': GATEWAY, ...extra }
}

function expectActionOk(result: ActionRun, devices = 2): any {
  expect(result.status, result.stdout + result.stderr).toBe(0)
  expect(result.stdout).not.toMatch(/^::error/m)
  expect(result.outputs.devices).toBe(String(devices))
  // The temp folder (secrets, decompressed base) is gone.
  expect(readdirSync(result.runnerTemp)).toEqual([])
  return readValidManifest(result.outputs.manifest as string)
}

function bakeCli(args: string[]): any {
  const result = runCli(['bake', ...common(), ...args])
  expect(result.status, result.stdout + result.stderr).toBe(0)
  const out = args[args.indexOf('--output-dir') + 1]!
  return readValidManifest(path.join(out, 'credbake-manifest.json'))
}

// ---- independent readers of table regions ---------------------------------------------------

/** [offset, length] of every table structure: MBR, GPT headers and entry arrays, EBRs. */
function tableRegions(image: string, table: 'gpt' | 'mbr' | 'none', sectorSize: number, size: number): Array<[string, number, number]> {
  if (table === 'none') return []
  const regions: Array<[string, number, number]> = [['sector 0 (MBR)', 0, 512]]
  if (table === 'gpt') {
    const s = sectorSize
    const header = readBytes(image, s, s)
    expect(header.toString('latin1', 0, 8)).toBe('EFI PART')
    const entriesLba = Number(header.readBigUInt64LE(72))
    const entriesLength = header.readUInt32LE(80) * header.readUInt32LE(84)
    const backupLba = Number(header.readBigUInt64LE(32))
    expect(backupLba * s, 'backup GPT header in the last sector').toBe(size - s)
    const backup = readBytes(image, backupLba * s, s)
    expect(backup.toString('latin1', 0, 8)).toBe('EFI PART')
    const backupEntriesLba = Number(backup.readBigUInt64LE(72))
    regions.push(['primary GPT header', s, s], ['primary GPT entries', entriesLba * s, entriesLength])
    regions.push(['backup GPT header', backupLba * s, s], ['backup GPT entries', backupEntriesLba * s, entriesLength])
    return regions
  }
  // MBR: follow the EBR chain from the extended partition (entry 2 links relative to its start).
  const mbrSector = readBytes(image, 0, 512)
  for (let i = 0; i < 4; i++) {
    const at = 446 + 16 * i
    if (![0x05, 0x0f, 0x85].includes(mbrSector[at + 4]!)) continue
    const extStart = mbrSector.readUInt32LE(at + 8)
    let lba = extStart
    for (let n = 0; n < 64; n++) {
      const ebr = readBytes(image, lba * 512, 512)
      expect(ebr.readUInt16LE(510), `EBR at LBA ${lba}`).toBe(0xaa55)
      regions.push([`EBR at LBA ${lba}`, lba * 512, 512])
      const link = ebr.readUInt32LE(446 + 16 + 8)
      if (ebr[446 + 16 + 4] === 0 || link === 0) break
      lba = extStart + link
    }
  }
  return regions
}

/** Byte ranges of `a` and `b` differ where? Returns the first differing offset or -1. */
function firstDifference(a: Buffer, b: Buffer): number {
  if (a.equals(b)) return -1
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i += 4096) {
    if (!a.subarray(i, i + 4096).equals(b.subarray(i, i + 4096))) {
      for (let j = i; j < Math.min(i + 4096, n); j++) if (a[j] !== b[j]) return j
    }
  }
  return n
}

/** Number of 4 KiB blocks that differ between two equally long buffers. */
function differingBlocks(a: Buffer, b: Buffer): number {
  let count = 0
  for (let i = 0; i < a.length; i += 4096) if (!a.subarray(i, i + 4096).equals(b.subarray(i, i + 4096))) count++
  return count
}

// ---- what a baked device must hold --------------------------------------------------------------

interface Expectation {
  /** output-dir of the run. */
  out: string
  doc: any
  /** The uncompressed base image (for byte comparisons). */
  base: BuiltImage
  part: BuiltPartition
  fs: 'ext' | 'fat'
  format: 'image' | 'partition'
  compress?: 'gz' | 'xz' | 'zst'
  /** The intermediate fleet CA's chain is appended to client.pem. */
  chain?: boolean
}

function decompress(file: string, kind: 'gz' | 'xz' | 'zst', dest: string): void {
  if (kind === 'zst') run('zstd', ['-d', '-q', '-f', '-o', dest, file])
  else run('sh', ['-c', `${kind === 'gz' ? 'gzip' : 'xz'} -dc "$1" > "$2"`, 'sh', file, dest])
}

function modeOf(stats: Stats): string {
  return (stats.mode & 0o7777).toString(8).padStart(4, '0')
}

/** Files (with modes) below the dir reference for a serial, as device paths. */
function referenceTree(serial: string): Map<string, string> {
  const top = path.join(dirRef, 'devices', serial)
  const tree = new Map<string, string>()
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name)
      const stats = statSync(full)
      tree.set(`/${path.relative(top, full)}`, stats.isDirectory() ? `dir ${modeOf(stats)}` : modeOf(stats))
      if (stats.isDirectory()) walk(full)
    }
  }
  walk(top)
  return tree
}

let checks = 0

function checkBake(e: Expectation): void {
  const { doc, base, part } = e
  expect(doc.output.format).toBe(e.format)
  expect(doc.output.compress).toBe(e.compress ?? 'none')
  expect(doc.devices.length).toBeGreaterThan(0)
  const baseBytes = readFileSync(base.path)
  // Outside out: the output-dir's path may hold characters debugfs/mtools read specially.
  const scratch = path.join(work, `check-${checks++}`)
  mkdirSync(scratch, { recursive: true })
  try {
    for (const device of doc.devices) {
      const file = path.join(e.out, device.output.path)
      expect(device.output.path).toMatch(e.format === 'image' ? /^images\// : /^partitions\//)
      expect(device.output.path).toContain(device.serial)
      expect(sha256sum(file), `${file}: SHA-256 as in the manifest`).toBe(device.output.sha256)
      expect(statSync(file).size).toBe(device.output.size)
      expect(device.output.partition).toMatchObject({ number: part.number, offset: part.start, size: part.size, fileSystem: part.spec!.fs })
      if (part.spec?.label) expect(String(device.output.partition.label).toUpperCase()).toBe(part.spec.label.toUpperCase())

      let plain = file
      if (e.compress) {
        expect(file.endsWith(`.${e.compress}`), file).toBe(true)
        plain = path.join(scratch, `${device.serial}.plain`)
        decompress(file, e.compress, plain)
      } else {
        // Sparse: only about as much allocated as the base holds data, far below the size.
        expect(allocatedBytes(file), `${file} stays sparse`).toBeLessThan(Math.min(statSync(file).size / 4, allocatedBytes(base.path) + 4 * MiB))
      }
      const bytes = readFileSync(plain)

      let fsFile: string
      let fsOffset: number
      if (e.format === 'image') {
        expect(bytes.length).toBe(base.size)
        for (const [what, offset, length] of tableRegions(base.path, base.table, base.sectorSize, base.size)) {
          expect(bytes.subarray(offset, offset + length).equals(baseBytes.subarray(offset, offset + length)), `${device.serial}: ${what} unchanged`).toBe(true)
        }
        // Stronger: nothing outside the selected partition changed at all.
        expect(firstDifference(bytes.subarray(0, part.start), baseBytes.subarray(0, part.start)), 'bytes before the partition').toBe(-1)
        expect(firstDifference(bytes.subarray(part.start + part.size), baseBytes.subarray(part.start + part.size)), 'bytes after the partition').toBe(-1)
        expect(bytes.subarray(part.start, part.start + part.size).equals(baseBytes.subarray(part.start, part.start + part.size)), 'the partition changed').toBe(false)
        fsFile = path.join(scratch, `${device.serial}.part`)
        extractBytes(plain, part.start, part.size, fsFile)
        fsOffset = 0
      } else {
        // Only the partition: the same size, and it differs from the base's partition in few blocks.
        expect(bytes.length).toBe(part.size)
        const changed = differingBlocks(bytes, baseBytes.subarray(part.start, part.start + part.size))
        expect(changed).toBeGreaterThan(0)
        expect(changed * 4096, 'bytes changed in the partition').toBeLessThan(MiB)
        fsFile = plain
        fsOffset = 0
      }

      if (e.fs === 'ext') {
        const fsck = runStatus('e2fsck', ['-fn', fsFile])
        expect(fsck.status, `e2fsck -fn ${device.serial}: ${fsck.stdout}${fsck.stderr}`).toBe(0)
      } else {
        const copy = path.join(scratch, `${device.serial}.fat`)
        const fsck = fsckVfat(fsFile, fsOffset, part.size, copy)
        expect(fsck.clean, `fsck.vfat -n ${device.serial}: ${fsck.output}`).toBe(true)
      }
      checkFiles(e, device, fsFile, fsOffset)
      if (fsFile !== plain) rmSync(fsFile, { force: true })
      if (plain !== file) rmSync(plain, { force: true })
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}

function checkFiles(e: Expectation, device: any, fsFile: string, offset: number): void {
  const read = (p: string): Buffer => (e.fs === 'ext' ? debugfsCat(fsFile, offset, p) : mcopyRead(fsFile, offset, p))
  const names = device.files.map((f: { path: string }) => f.path)
  expect(names.sort()).toEqual([`${CRED_DIR}/client.pem`, `${CRED_DIR}/gateway.url`, `${CRED_DIR}/pkey.pem`, `${CRED_DIR}/root.crt`])

  // The same structure as the dir output: paths and modes (FAT: paths only, modes recorded as null).
  const reference = referenceTree(device.serial)
  const referenceFiles = [...reference].filter(([, kind]) => !kind.startsWith('dir')).map(([p]) => p)
  expect([...names].sort()).toEqual(referenceFiles.sort())

  for (const entry of device.files) {
    const content = read(entry.path)
    expect(content.length, `${device.serial} ${entry.path} size`).toBeGreaterThan(0)
    if (e.fs === 'ext') {
      const stat = debugfsStat(fsFile, offset, entry.path)
      expect(stat, entry.path).toMatchObject({ type: 'regular', mode: entry.mode, uid: 0, gid: 0, size: content.length })
      expect(entry.mode).toBe(reference.get(entry.path))
      expect(entry.owner).toBe('0:0')
      expect(entry.mode).toBe(entry.privateKey ? '0600' : '0644')
    } else {
      expect(entry.mode).toBeNull()
      expect(entry.owner).toBeNull()
    }
    if (entry.privateKey) {
      expect(entry.sha256 ?? null).toBeNull()
      continue
    }
    expect(sha256(content), `${device.serial} ${entry.path} SHA-256`).toBe(entry.sha256)
    expect(content.length).toBe(entry.size)
  }

  // Directories on ext4: the chain exists, root-owned, with the dir output's modes.
  if (e.fs === 'ext') {
    for (const dir of ['/var', '/var/sota', CRED_DIR]) {
      const stat = debugfsStat(fsFile, offset, dir)
      expect(stat, dir).toMatchObject({ type: 'directory', uid: 0, gid: 0 })
      expect(`dir ${stat!.mode}`, dir).toBe(reference.get(dir))
    }
    // Nothing else in the credentials directory.
    const listing = run('debugfs', ['-R', `ls -p ${CRED_DIR}`, `${fsFile}?offset=${offset}`])
    const entries = listing
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('/')[5])
      .filter((n) => n && n !== '.' && n !== '..')
    expect(entries.sort()).toEqual(['client.pem', 'gateway.url', 'pkey.pem', 'root.crt'])
  } else {
    const listing = run('mdir', ['-b', '-i', `${fsFile}@@${offset}`, `::${CRED_DIR}`])
    expect(
      listing
        .split('\n')
        .filter(Boolean)
        .map((l) => path.posix.basename(l.trim()))
        .sort()
    ).toEqual(['client.pem', 'gateway.url', 'pkey.pem', 'root.crt'])
  }

  // The certificate is the one in the manifest; the key on the device belongs to it.
  const client = read(`${CRED_DIR}/client.pem`).toString('utf8')
  const [leafPem, ...chain] = splitPems(client)
  const leaf = new X509Certificate(leafPem!)
  expect(leaf.fingerprint256.replace(/:/g, '').toLowerCase()).toBe(device.certificate.sha256)
  expect(leaf.subject).toBe(`CN=${device.deviceId}`)
  expect(chain).toEqual(e.chain === false ? [] : [fleet.certPem])
  const verified = opensslVerify([leafPem!], { trustedPem: root.certPem, untrustedPems: chain })
  expect(verified.ok, verified.output).toBe(true)
  const key = read(`${CRED_DIR}/pkey.pem`).toString('utf8')
  expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
  const derived = createPublicKey(createPrivateKey(key)).export({ type: 'spki', format: 'der' })
  expect(derived.equals(leaf.publicKey.export({ type: 'spki', format: 'der' })), 'pkey.pem matches client.pem').toBe(true)
  expect(sha256(derived)).toBe(device.certificate.publicKeySha256)
  expect(read(`${CRED_DIR}/root.crt`).toString('utf8')).toBe(serverCa.certPem)
  expect(read(`${CRED_DIR}/gateway.url`).toString('utf8')).toBe(`${GATEWAY}\n`)

  // Files the base already had are still there.
  if (e.fs === 'ext' && e.part.spec?.files) {
    for (const [p, content] of Object.entries(e.part.spec.files)) {
      expect(read(`/${p}`).equals(Buffer.from(content)), `/${p} kept`).toBe(true)
    }
  }
}

// ---- the cases ------------------------------------------------------------------------------------

describe('GPT: FAT32 "boot" and ext4 "rootfs" (metadata_csum, 64bit)', () => {
  it('the rootfs really has the mkfs.ext4 defaults the issue asks for', () => {
    const fsFile = path.join(work, 'rootfs-features.ext4')
    extractBytes(gpt.path, gpt.part('rootfs').start, gpt.part('rootfs').size, fsFile)
    const features = run('dumpe2fs', ['-h', fsFile]).match(/Filesystem features:\s+(.*)/)?.[1] ?? ''
    rmSync(fsFile)
    expect(features.split(/\s+/)).toEqual(expect.arrayContaining(['metadata_csum', '64bit', 'extent', 'has_journal']))
  })

  describe.each(NODES)('the action under %s', (name, node) => {
    it('bakes label=rootfs: fsck clean, files byte-identical, modes/owner, table unchanged, sparse', () => {
      const out = path.join(work, `gpt-rootfs-${name}`)
      const result = runAction(inputs({ image: gpt.path, partition: 'label=rootfs', format: 'image', 'output-dir': out }), { node })
      const doc = expectActionOk(result)
      expect(doc.output.image).toMatchObject({ path: gpt.path, sha256: baseSums.get(gpt.path) })
      expect(doc.devices.map((d: any) => d.output.path)).toEqual(['images/SN-0001.img', 'images/SN-0002.img'])
      // Nothing else lands in images/ (no temp files left behind).
      expect(readdirSync(path.join(out, 'images')).sort()).toEqual(['SN-0001.img', 'SN-0002.img'])
      checkBake({ out, doc, base: gpt, part: gpt.part('rootfs'), fs: 'ext', format: 'image' })
      // The summary and the certificates output cover the images.
      expect(result.summary).toContain('SN-0002')
      expect(splitPems(readFileSync(result.outputs.certificates as string, 'utf8'))).toHaveLength(2)
    })
  })

  it('bakes name=boot (FAT32): fsck.vfat clean, files byte-identical, no modes recorded (action)', () => {
    const out = path.join(work, 'gpt-boot')
    const doc = expectActionOk(runAction(inputs({ image: gpt.path, partition: 'name=boot', 'output-dir': out })))
    checkBake({ out, doc, base: gpt, part: gpt.part('boot'), fs: 'fat', format: 'image' })
  })

  it('the CLI bakes the same as the action, the default partition is the only ext4 one', () => {
    const out = path.join(work, 'gpt-cli-default')
    const doc = bakeCli(['--image', gpt.path, '--output-dir', out])
    expect(doc.output.format).toBe('image')
    // The base's SHA-256 comes from the same read that maps and caches it: the file's digest.
    expect(doc.output.image.sha256).toBe(sha256sum(gpt.path))
    checkBake({ out, doc, base: gpt, part: gpt.part('rootfs'), fs: 'ext', format: 'image' })
  })

  it('a base whose data is above the memory limit is streamed (bounded buffers): outputs as good, digests of the files', () => {
    // CREDBAKE_IMAGE_CACHE_LIMIT=0 puts this small base above the limit, so the copies read the base
    // each time instead of from memory (the path 4 GiB bases take).
    const out = path.join(work, 'gpt-streamed')
    const result = runCli(['bake', ...common(), '--image', gpt.path, '--output-dir', out], { env: { CREDBAKE_IMAGE_CACHE_LIMIT: '0' } })
    expect(result.status, result.stdout + result.stderr).toBe(0)
    const doc = readValidManifest(path.join(out, 'credbake-manifest.json'))
    checkBake({ out, doc, base: gpt, part: gpt.part('rootfs'), fs: 'ext', format: 'image' })
    // The base's digest in the manifest is the file's, however it was read.
    expect(doc.output.image.sha256).toBe(sha256sum(gpt.path))
  })
})

describe('MBR: three primaries, an extended partition with two logicals', () => {
  it('the test image is what sfdisk says: 1-3 primary, 4 extended, 5 and 6 logical', () => {
    const table = sfdiskJson(mbr.path)
    expect(table.label).toBe('dos')
    expect(table.partitions.map((p) => nodeNumber(p.node))).toEqual([1, 2, 3, 4, 5, 6])
    expect(table.partitions.find((p) => nodeNumber(p.node) === 4)?.type).toBe('5')
  })

  it('bakes into partition 6 (ext4 in the second logical): EBRs, MBR and every other partition unchanged', () => {
    const out = path.join(work, 'mbr-6')
    const doc = expectActionOk(runAction(inputs({ image: mbr.path, partition: '6', 'output-dir': out })))
    const part = mbr.part(6)
    expect(part.spec?.fs).toBe('ext4')
    const regions = tableRegions(mbr.path, 'mbr', 512, mbr.size)
    expect(regions.filter(([what]) => what.startsWith('EBR'))).toHaveLength(2)
    checkBake({ out, doc, base: mbr, part, fs: 'ext', format: 'image' })
    expect(doc.output.image.partition).toMatch(/^6/)
  })
})

describe('GPT with 4096-byte sectors', () => {
  let gpt4k: BuiltImage
  beforeAll(async () => {
    gpt4k = await buildGpt4kImage(work)
    remember(gpt4k.path)
  })

  it('bakes the ext4 rootfs (name=rootfs) and the FAT16/4K boot (label=BOOT4K)', () => {
    const rows = fdiskList(gpt4k.path, 4096)
    expect(rows.map((r) => r.name)).toEqual(['boot', 'rootfs'])
    const out = path.join(work, 'gpt4k-rootfs')
    checkBake({
      out,
      doc: bakeCli(['--image', gpt4k.path, '--partition', 'name=rootfs', '--output-dir', out]),
      base: gpt4k,
      part: gpt4k.part('rootfs'),
      fs: 'ext',
      format: 'image'
    })
    const outBoot = path.join(work, 'gpt4k-boot')
    checkBake({
      out: outBoot,
      doc: bakeCli(['--image', gpt4k.path, '--partition', 'label=BOOT4K', '--output-dir', outBoot]),
      base: gpt4k,
      part: gpt4k.part('boot'),
      fs: 'fat',
      format: 'image'
    })
  })
})

describe('a bare ext4 image (no partition table)', () => {
  it('bakes into the whole file (partition 0) by default', async () => {
    const bare = await buildBareExt4(work, { size: 16 * MiB })
    remember(bare.path)
    const out = path.join(work, 'bare')
    const doc = expectActionOk(runAction(inputs({ image: bare.path, 'output-dir': out })))
    expect(doc.devices[0].output.partition).toMatchObject({ number: 0, offset: 0, size: 16 * MiB, fileSystem: 'ext4' })
    checkBake({ out, doc, base: bare, part: bare.part(0), fs: 'ext', format: 'image' })
  })
})

describe('compressed base images and compressed outputs', () => {
  let xzBase: string
  let plainCopy: BuiltImage
  beforeAll(async () => {
    const dir = path.join(work, 'xz')
    mkdirSync(dir)
    plainCopy = await buildGptImage(dir, { rootSize: 16 * MiB, file: 'firmware.wic' })
    xzBase = compressWithTool(plainCopy.path, 'xz')
    remember(plainCopy.path, xzBase)
  })

  it('a .xz base, zst outputs: decompressed outputs are clean images with the bundle (action)', () => {
    const out = path.join(work, 'xz-zst')
    const result = runAction(inputs({ image: xzBase, partition: 'label=rootfs', compress: 'zst', 'output-dir': out }))
    const doc = expectActionOk(result)
    expect(doc.output.image.sha256).toBe(baseSums.get(xzBase))
    expect(doc.devices.map((d: any) => d.output.path)).toEqual(['images/SN-0001.wic.zst', 'images/SN-0002.wic.zst'])
    expect(readdirSync(path.join(out, 'images')).sort()).toEqual(['SN-0001.wic.zst', 'SN-0002.wic.zst'])
    // Nothing decompressed next to the base.
    expect(readdirSync(path.dirname(xzBase)).sort()).toEqual(['firmware.wic', 'firmware.wic.xz'])
    checkBake({ out, doc, base: plainCopy, part: plainCopy.part('rootfs'), fs: 'ext', format: 'image', compress: 'zst' })
  })

  it('a .xz base, gz outputs, into the FAT boot partition (CLI)', () => {
    const out = path.join(work, 'xz-gz')
    const doc = bakeCli(['--image', xzBase, '--partition', 'name=boot', '--compress', 'gz', '--output-dir', out])
    checkBake({ out, doc, base: plainCopy, part: plainCopy.part('boot'), fs: 'fat', format: 'image', compress: 'gz' })
  })
})

describe('format: partition', () => {
  it('outputs only the rootfs partition: offset and size in the manifest, fsck clean, files there, few blocks changed', () => {
    const out = path.join(work, 'part-rootfs')
    const doc = expectActionOk(runAction(inputs({ image: gpt.path, partition: 'label=rootfs', format: 'partition', 'output-dir': out })))
    expect(doc.devices.map((d: any) => d.output.path)).toEqual(['partitions/SN-0001.img', 'partitions/SN-0002.img'])
    expect(existsSync(path.join(out, 'images'))).toBe(false)
    checkBake({ out, doc, base: gpt, part: gpt.part('rootfs'), fs: 'ext', format: 'partition' })
  })

  it('a partition of an MBR logical, and a FAT partition', () => {
    const out = path.join(work, 'part-mbr5')
    checkBake({
      out,
      doc: bakeCli(['--image', mbr.path, '--partition', '5', '--format', 'partition', '--output-dir', out]),
      base: mbr,
      part: mbr.part(5),
      fs: 'ext',
      format: 'partition'
    })
    const outFat = path.join(work, 'part-boot')
    checkBake({
      out: outFat,
      doc: bakeCli(['--image', gpt.path, '--partition', 'name=boot', '--format', 'partition', '--output-dir', outFat]),
      base: gpt,
      part: gpt.part('boot'),
      fs: 'fat',
      format: 'partition'
    })
  })

  it('the partition output spliced into the base at the manifest offset gives a clean image with the bundle', () => {
    const out = path.join(work, 'part-splice')
    const doc = bakeCli(['--image', gpt.path, '--partition', 'label=rootfs', '--format', 'partition', '--output-dir', out])
    const device = doc.devices[0]
    const spliced = path.join(work, 'spliced.img')
    run('cp', ['--sparse=always', gpt.path, spliced])
    run('dd', [
      `if=${path.join(out, device.output.path)}`,
      `of=${spliced}`,
      'bs=1M',
      `seek=${device.output.partition.offset}`,
      'oflag=seek_bytes',
      'conv=notrunc,sparse',
      'status=none'
    ])
    const fsck = runStatus('e2fsck', ['-fn', `${spliced}?offset=${device.output.partition.offset}`])
    expect(fsck.status, fsck.stdout).toBe(0)
    const client = debugfsCat(spliced, device.output.partition.offset, `${CRED_DIR}/client.pem`).toString('utf8')
    expect(new X509Certificate(splitPems(client)[0]!).fingerprint256.replace(/:/g, '').toLowerCase()).toBe(device.certificate.sha256)
    rmSync(spliced)
  })
})

describe('the checks above notice damage (so a passing run means something)', () => {
  it('a changed backup GPT, a changed byte in another partition, a changed file', async () => {
    const out = path.join(work, 'tamper')
    const doc = bakeCli(['--image', gpt.path, '--partition', 'label=rootfs', '--output-dir', out])
    const image = path.join(out, doc.devices[0].output.path)
    const pristine = readFileSync(image)
    const tamper = (offset: number, what: RegExp): void => {
      const copy = Buffer.from(pristine)
      copy[offset] = copy[offset]! ^ 0xff
      writeFileSync(`${image}.tmp`, copy)
      run('cp', ['--sparse=always', `${image}.tmp`, image])
      rmSync(`${image}.tmp`)
      const edited = { ...doc, devices: [{ ...doc.devices[0], output: { ...doc.devices[0].output, sha256: sha256sum(image) } }] }
      expect(() => checkBake({ out, doc: edited, base: gpt, part: gpt.part('rootfs'), fs: 'ext', format: 'image' })).toThrow(what)
    }
    tamper(gpt.size - 512 - 16384 + 56, /backup GPT entries unchanged/)
    tamper(gpt.part('boot').start + 3 * MiB, /bytes before the partition/)
    // A byte of client.pem's data block, found through debugfs.
    const blocks = run('debugfs', ['-R', `blocks ${CRED_DIR}/client.pem`, `${image}?offset=${gpt.part('rootfs').start}`])
      .trim()
      .split(/\s+/)
      .map(Number)
    const blockSize = Number(/Block size:\s+(\d+)/.exec(run('dumpe2fs', ['-h', `${image}?offset=${gpt.part('rootfs').start}`]))?.[1])
    tamper(gpt.part('rootfs').start + blocks[0]! * blockSize + 100, /client\.pem SHA-256/)
  })
})

describe('paths the tools give a meaning to', () => {
  // debugfs reads `FILE?offset=N` and mtools `FILE@@N`: an output-dir holding "?" or "@@" (legal in
  // POSIX paths) must not change which file they open.
  it('an output-dir with "?" in its path (ext4 via debugfs)', () => {
    const out = path.join(work, 'what?out')
    const result = runCli(['bake', ...common(), '--image', gpt.path, '--partition', 'label=rootfs', '--output-dir', out])
    expect(result.status, result.stderr).toBe(0)
    checkBake({ out, doc: readValidManifest(path.join(out, 'credbake-manifest.json')), base: gpt, part: gpt.part('rootfs'), fs: 'ext', format: 'image' })
  })

  it('an output-dir with "@@" in its path (FAT via mtools)', () => {
    const out = path.join(work, 'at@@out')
    const result = runCli(['bake', ...common(), '--image', gpt.path, '--partition', 'name=boot', '--output-dir', out])
    expect(result.status, result.stderr).toBe(0)
    checkBake({ out, doc: readValidManifest(path.join(out, 'credbake-manifest.json')), base: gpt, part: gpt.part('boot'), fs: 'fat', format: 'image' })
  })
})
