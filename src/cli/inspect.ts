// `credbake inspect IMAGE`: what credbake sees in an image — the table, and each partition's
// number, offset, size, type, GPT name, file system and label — so a user can pick `partition`.
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { EXIT_CODES, InputError } from '../errors.js'
import { prepareBaseImage } from '../image/compress.js'
import { formatPartitionTable, readDiskLayout, type DiskLayout } from '../image/table.js'
import type { Console } from './console.js'
import { parseFlags } from './flags.js'

export const INSPECT_HELP = `Usage: credbake inspect IMAGE [--json]

Shows the partition table of IMAGE (MBR, GPT or none, sector size) and, for each partition, its
number (Linux numbering: logical MBR partitions from 5), start offset in bytes, size, type, GPT
name, file system (ext2/3/4, FAT12/16/32) and label. Use a number, label=LABEL or name=NAME from
here as the partition input of bake. Compressed images (.gz, .xz, .zst) are decompressed to a
temporary file first.
`

export async function inspectCommand(args: string[], out: Console): Promise<number> {
  const parsed = parseFlags(args, { strings: [], booleans: ['json'] }, 1)
  const image = parsed.positionals[0]
  if (image === undefined) throw new InputError('inspect needs the image to read: credbake inspect IMAGE', { input: 'image' })
  // A compressed image (.gz/.xz/.zst, by content) is decompressed to a temporary sparse file first.
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'credbake-inspect-'))
  let layout: DiskLayout
  let compression: string
  try {
    const prepared = await prepareBaseImage(path.resolve(image), scratch)
    compression = prepared.compression
    layout = { ...(await readDiskLayout(prepared.path, { onWarning: (message) => out.stderr(`warning: ${message}\n`) })), path: path.resolve(image) }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
  if (parsed.values.json === 'true') {
    out.stdout(`${JSON.stringify(layout, null, 2)}\n`)
    return EXIT_CODES.ok
  }
  const table =
    layout.table === 'none'
      ? 'no partition table (a bare file system)'
      : `${layout.table.toUpperCase()}${layout.mbr && layout.mbr !== 'none' ? ` (${layout.mbr} MBR)` : ''}${layout.diskId ? `, disk id ${layout.diskId}` : ''}`
  const size = compression === 'none' ? `${layout.size} bytes` : `${layout.size} bytes once decompressed (${compression})`
  out.stdout(`${layout.path}: ${size}, ${table}, ${layout.sectorSize}-byte sectors\n\n${formatPartitionTable(layout)}\n`)
  return EXIT_CODES.ok
}
