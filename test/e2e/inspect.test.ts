// `credbake inspect IMAGE` (text and --json) through the bundled CLI, against what sfdisk, fdisk and
// blkid report for images built here: numbers (Linux numbering), starts, sizes, GPT names, types,
// file systems and labels.
import { rmSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  buildBareExt4,
  buildBareFat,
  buildGpt4kImage,
  buildGptImage,
  buildMbrImage,
  cleanupScratch,
  compressWithTool,
  fdiskList,
  MiB,
  nodeNumber,
  run,
  scratchDir,
  sfdiskJson,
  type BuiltImage
} from '../helpers/images.js'
import { runCli } from '../helpers/run.js'

let work: string
let gpt: BuiltImage
let mbr: BuiltImage
let gpt4k: BuiltImage

beforeAll(async () => {
  work = await scratchDir('credbake-e2e-inspect-')
  gpt = await buildGptImage(work, { rootSize: 16 * MiB })
  mbr = await buildMbrImage(work)
  gpt4k = await buildGpt4kImage(work)
})
afterAll(cleanupScratch)

interface InspectJson {
  path: string
  size: number
  table: 'gpt' | 'mbr' | 'none'
  sectorSize: number
  mbr?: string
  diskId?: string
  partitions: Array<{
    number: number
    start: number
    size: number
    type: string
    typeName: string | null
    name: string | null
    kind: string
    fileSystem: { type: string; label: string | null }
  }>
  warnings: string[]
}

function inspectJson(image: string): InspectJson {
  const result = runCli(['inspect', '--json', image])
  expect(result.status, result.stderr).toBe(0)
  return JSON.parse(result.stdout) as InspectJson
}

/** The text table's rows, split on runs of two or more spaces (cells never hold two spaces). */
function inspectText(image: string): { head: string; rows: Array<Record<string, string>> } {
  const result = runCli(['inspect', image])
  expect(result.status, result.stderr).toBe(0)
  const lines = result.stdout.trimEnd().split('\n')
  const headerAt = lines.findIndex((l) => /^#\s+start\s+size\s+type/.test(l))
  expect(headerAt, result.stdout).toBeGreaterThan(0)
  // Column positions from the header, since name/label cells may be empty.
  const header = lines[headerAt]!
  const columns = ['#', 'start', 'size', 'type', 'name', 'fs', 'label'].map((c) => ({
    c,
    at: header.search(new RegExp(`(^|\\s)${c === '#' ? '#' : c}(\\s|$)`)) + (c === '#' ? 0 : 1)
  }))
  const rows = lines.slice(headerAt + 1).map((line) => {
    const row: Record<string, string> = {}
    columns.forEach(({ c, at }, i) => {
      row[c] = line.slice(at, i + 1 < columns.length ? columns[i + 1]!.at : undefined).trim()
    })
    return row
  })
  return { head: lines.slice(0, headerAt).join('\n'), rows }
}

/** blkid's view of the file system at a byte offset: TYPE, VERSION and LABEL. */
function blkid(image: string, offset: number, size: number): Record<string, string> {
  const out = run('blkid', ['-p', '-O', String(offset), '-S', String(size), '-o', 'export', image])
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => l.split('=', 2) as [string, string])
  )
}

/** credbake's fs type from blkid's TYPE/VERSION: ext2/3/4, vfat FAT12/16/32. */
function fsFromBlkid(b: Record<string, string>): string {
  return b.TYPE === 'vfat' ? (b.VERSION ?? '').toLowerCase() : (b.TYPE ?? 'unknown')
}

const GPT_TYPE_NAMES: Record<string, string> = {
  'C12A7328-F81F-11D2-BA4B-00A0C93EC93B': 'EFI System',
  '0FC63DAF-8483-4772-8E79-3D69D8477DE4': 'Linux filesystem',
  'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7': 'Microsoft basic data'
}

describe('GPT (512-byte sectors)', () => {
  it('--json matches sfdisk --json and blkid', () => {
    const doc = inspectJson(gpt.path)
    const sfdisk = sfdiskJson(gpt.path)
    const id = (JSON.parse(run('sfdisk', ['--json', gpt.path])) as { partitiontable: { id: string } }).partitiontable.id
    expect(doc).toMatchObject({ path: gpt.path, size: gpt.size, table: 'gpt', sectorSize: 512, mbr: 'protective', diskId: id.toUpperCase(), warnings: [] })
    expect(doc.partitions.map((p) => p.number)).toEqual(sfdisk.partitions.map((p) => nodeNumber(p.node)))
    for (const [i, p] of sfdisk.partitions.entries()) {
      const ours = doc.partitions[i]!
      expect(ours).toMatchObject({ start: p.start * 512, size: p.size * 512, type: p.type.toUpperCase(), name: p.name, kind: 'gpt' })
      expect(ours.typeName).toBe(GPT_TYPE_NAMES[p.type.toUpperCase()])
      const b = blkid(gpt.path, ours.start, ours.size)
      expect(ours.fileSystem.type, `partition ${ours.number}`).toBe(fsFromBlkid(b))
      expect(ours.fileSystem.label).toBe(b.LABEL)
    }
    expect(doc.partitions.map((p) => [p.fileSystem.type, p.fileSystem.label])).toEqual([
      ['fat32', 'BOOT'],
      ['ext4', 'rootfs']
    ])
  })

  it('the text form shows the same numbers, starts, names, file systems and labels', () => {
    const { head, rows } = inspectText(gpt.path)
    expect(head).toContain(gpt.path)
    expect(head).toMatch(/GPT/)
    expect(head).toMatch(/512-byte sectors/)
    expect(head).toContain(String(gpt.size))
    const sfdisk = sfdiskJson(gpt.path)
    expect(rows).toHaveLength(sfdisk.partitions.length)
    for (const [i, p] of sfdisk.partitions.entries()) {
      expect(rows[i]).toMatchObject({ '#': String(nodeNumber(p.node)), start: String(p.start * 512), name: p.name })
      expect(rows[i]!.size).toBe(`${(p.size * 512) / MiB} MiB`)
    }
    expect(rows.map((r) => [r.type, r.fs, r.label])).toEqual([
      ['EFI System', 'fat32', 'BOOT'],
      ['Linux filesystem', 'ext4', 'rootfs']
    ])
  })
})

describe('MBR with an extended partition and two logicals', () => {
  it('--json matches sfdisk --json (logicals numbered 5 and 6) and blkid', () => {
    const doc = inspectJson(mbr.path)
    const sfdisk = sfdiskJson(mbr.path)
    const id = (JSON.parse(run('sfdisk', ['--json', mbr.path])) as { partitiontable: { id: string } }).partitiontable.id
    expect(doc).toMatchObject({ table: 'mbr', sectorSize: 512, size: mbr.size, diskId: id.toLowerCase() })
    expect(doc.partitions.map((p) => p.number)).toEqual([1, 2, 3, 4, 5, 6])
    expect(doc.partitions.map((p) => p.kind)).toEqual(['primary', 'primary', 'primary', 'extended', 'logical', 'logical'])
    for (const p of sfdisk.partitions) {
      const ours = doc.partitions.find((q) => q.number === nodeNumber(p.node))!
      expect(ours, p.node).toMatchObject({ start: p.start * 512, size: p.size * 512, name: null })
      expect(Number(ours.type)).toBe(Number.parseInt(p.type, 16))
      if (ours.kind === 'extended') continue
      const b = blkid(mbr.path, ours.start, ours.size)
      expect(ours.fileSystem.type, p.node).toBe(fsFromBlkid(b))
      expect(ours.fileSystem.label, p.node).toBe(b.LABEL)
    }
    expect(doc.partitions.filter((p) => p.kind !== 'extended').map((p) => [p.number, p.fileSystem.type, p.fileSystem.label])).toEqual([
      [1, 'fat12', 'FW'],
      [2, 'fat16', 'BOOT'],
      [3, 'ext2', 'data'],
      [5, 'ext3', 'factory'],
      [6, 'ext4', 'config']
    ])
  })

  it('the text form lists the extended partition as such, and every logical', () => {
    const { head, rows } = inspectText(mbr.path)
    expect(head).toMatch(/MBR/)
    const sfdisk = sfdiskJson(mbr.path)
    expect(rows.map((r) => r['#'])).toEqual(['1', '2', '3', '4', '5', '6'])
    for (const p of sfdisk.partitions) {
      const row = rows.find((r) => r['#'] === String(nodeNumber(p.node)))!
      expect(row.start).toBe(String(p.start * 512))
    }
    expect(rows.map((r) => [r.fs, r.label])).toEqual([
      ['fat12', 'FW'],
      ['fat16', 'BOOT'],
      ['ext2', 'data'],
      ['(extended)', ''],
      ['ext3', 'factory'],
      ['ext4', 'config']
    ])
    expect(rows[3]!.type).toMatch(/Extended/i)
  })
})

describe('other layouts', () => {
  it('GPT with 4096-byte sectors matches fdisk -b 4096', () => {
    const doc = inspectJson(gpt4k.path)
    expect(doc).toMatchObject({ table: 'gpt', sectorSize: 4096 })
    const rows = fdiskList(gpt4k.path, 4096)
    expect(doc.partitions.map((p) => [p.number, p.start, p.size, p.name])).toEqual(rows.map((r) => [r.number, r.start * 4096, r.sectors * 4096, r.name]))
    expect(doc.partitions.map((p) => [p.fileSystem.type, p.fileSystem.label])).toEqual([
      ['fat16', 'BOOT4K'],
      ['ext4', 'rootfs']
    ])
    expect(inspectText(gpt4k.path).head).toMatch(/4096-byte sectors/)
  })

  it('a bare ext4 and a bare FAT image: no table, partition 0', async () => {
    const ext = await buildBareExt4(work, { size: 8 * MiB, label: 'bare-root' })
    const fat = await buildBareFat(work, { fs: 'fat16', size: 16 * MiB, label: 'BAREBOOT' })
    for (const [image, fs, label] of [
      [ext.path, 'ext4', 'bare-root'],
      [fat.path, 'fat16', 'BAREBOOT']
    ] as const) {
      const doc = inspectJson(image)
      expect(doc).toMatchObject({ table: 'none' })
      expect(doc.partitions).toHaveLength(1)
      expect(doc.partitions[0]).toMatchObject({ number: 0, start: 0, kind: 'whole', fileSystem: { type: fs, label } })
      const text = inspectText(image)
      expect(text.head).toMatch(/no partition table/)
      expect(text.rows).toEqual([expect.objectContaining({ '#': '0', start: '0', fs, label })])
    }
  })
})

describe('inspect errors', () => {
  it('a missing image, no image argument, and a file with neither table nor file system', () => {
    // A missing image is a wrong argument: exit 2, as bake's --image says (docs/cli.md#exit-codes).
    const missing = runCli(['inspect', path.join(work, 'nope.img')])
    expect(missing.status).toBe(2)
    expect(missing.stderr).toMatch(/nope\.img.*does not exist/)
    const none = runCli(['inspect'])
    expect(none.status).toBe(2)
    expect(none.stderr).toMatch(/credbake inspect IMAGE/)
    const junk = path.join(work, 'junk.bin')
    run('truncate', ['-s', String(MiB), junk])
    const bad = runCli(['inspect', '--json', junk])
    expect(bad.status).toBe(4)
    expect(bad.stdout).toBe('')
    expect(bad.stderr).toMatch(/no partition table/)
    rmSync(junk)
  })

  it('a compressed image: shown (as bake accepts it), or a message that says to decompress it', () => {
    const xz = compressWithTool(gpt.path, 'xz')
    const result = runCli(['inspect', xz])
    rmSync(xz)
    if (result.status === 0) expect(result.stdout).toMatch(/rootfs/)
    else expect(result.stderr, 'a .xz image is not "an image without a partition table"').toMatch(/compressed|decompress/i)
  })
})

describe('--files: the files of a folder, without mounting', () => {
  /** `debugfs ls -p` of a folder, as name → [octal mode, uid:gid, size] (an independent reader). */
  function debugfsListing(image: string, offset: number, dir: string): Map<string, [string, string, number]> {
    const out = run('debugfs', ['-R', `ls -p ${dir}`, `${image}?offset=${offset}`])
    const entries = new Map<string, [string, string, number]>()
    for (const line of out.split('\n')) {
      const m = /^\/\d+\/([0-7]+)\/(\d+)\/(\d+)\/(.*)\/(\d*)\/$/.exec(line)
      if (!m || m[4] === '.' || m[4] === '..') continue
      entries.set(m[4]!, [(parseInt(m[1]!, 8) & 0o7777).toString(8).padStart(4, '0'), `${m[2]}:${m[3]}`, Number(m[5] || 0)])
    }
    return entries
  }

  it('lists modes, owners and sizes of an ext folder as debugfs reads them (text and --json)', () => {
    const reference = debugfsListing(gpt.path, gpt.part('rootfs').start, '/etc')
    expect([...reference.keys()].sort()).toEqual(['hostname', 'os-release'])
    const json = inspectJsonWith(['--files=/etc', gpt.path])
    expect(json.files).toMatchObject({ partition: 2, devicePath: '/etc', path: '/etc' })
    expect(json.files.entries.map((e: any) => [e.name, [e.mode, e.owner, e.size]])).toEqual([...reference.entries()].sort())
    const text = runCli(['inspect', '--files=/etc', gpt.path])
    expect(text.status, text.stderr).toBe(0)
    expect(text.stdout).toContain('Files in /etc of partition 2 (rootfs):')
    expect(text.stdout).toMatch(/-rw-r--r--\s+0:0\s+7\s+hostname/)
  })

  it('a FAT partition chosen with --partition: sizes, no modes or owners', () => {
    const text = runCli(['inspect', '--files=/overlays', '--partition', 'label=BOOT', gpt.path])
    expect(text.status, text.stderr).toBe(0)
    expect(text.stdout).toContain('Files in /overlays of partition 1 (boot, BOOT):')
    expect(text.stdout).toMatch(/-\(FAT\)\s+-\s+4\s+a\.dtbo/)
  })

  it('the default folder, when it is not there, says so', () => {
    const text = runCli(['inspect', '--files', gpt.path])
    expect(text.status, text.stderr).toBe(0)
    expect(text.stdout).toContain('No folder /var/sota/import in partition 2 (rootfs).')
    expect(inspectJsonWith(['--files', gpt.path]).files.entries).toBeNull()
  })

  it('refuses a relative folder, and an image with several ext partitions without --partition', () => {
    const relative = runCli(['inspect', '--files=etc', gpt.path])
    expect(relative.status).toBe(2)
    expect(relative.stderr).toContain('--files takes an absolute folder')
    const several = runCli(['inspect', '--files', mbr.path])
    expect(several.status).toBe(4)
    expect(several.stderr).toMatch(/3 ext2\/3\/4 partitions/)
    const chosen = runCli(['inspect', '--files=/', '--partition', '6', mbr.path])
    expect(chosen.status, chosen.stderr).toBe(0)
    expect(chosen.stdout).toMatch(/d[rwx-]{9}\s+0:0\s+\d+\s+etc/)
  })

  function inspectJsonWith(args: string[]): any {
    const result = runCli(['inspect', '--json', ...args])
    expect(result.status, result.stderr).toBe(0)
    return JSON.parse(result.stdout)
  }
})
