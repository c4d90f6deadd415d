// Reads the device manifest (`manifest` input) in any of its formats into validated devices.
// Every problem names file:line; all bad rows are collected so one run reports them together.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { ManifestError, messageOf } from '../errors.js'
import { readCsv } from './csv.js'
import { readJson, readJsonl } from './json.js'
import { stripBom } from './lines.js'
import { DeviceList } from './list.js'
import { DeviceCollector } from './rows.js'
import type { Device } from './types.js'
import { readYaml } from './yaml.js'

export { parseShard, selectShard, selectShardOf, shardOf, type Shard } from './shard.js'
export { DeviceList } from './list.js'
export { ManifestProblemsError, type ManifestProblem } from './problems.js'

export type ManifestFormat = 'csv' | 'json' | 'jsonl' | 'yaml'

const EXTENSIONS: Record<string, ManifestFormat> = {
  '.csv': 'csv',
  '.json': 'json',
  '.jsonl': 'jsonl',
  '.yaml': 'yaml',
  '.yml': 'yaml'
}
const ACCEPTED = Object.keys(EXTENSIONS).join(', ')

/** Format of a manifest by its file extension (case-insensitive); ManifestError for others. */
export function manifestFormat(file: string): ManifestFormat {
  const ext = path.extname(file).toLowerCase()
  const format = EXTENSIONS[ext]
  if (format === undefined) {
    const what = ext === '' ? 'has no file extension' : `has the extension ${ext}`
    // No line: the problem is the file name, not a row.
    throw new ManifestError(`Input "manifest": ${file} ${what}; use one of ${ACCEPTED}.`, { file })
  }
  return format
}

/** Reads and validates the manifest at `file` (relative paths from the working directory). */
export async function readDeviceManifest(file: string): Promise<Device[]> {
  return (await readDeviceList(file)).toArray()
}

/** As readDeviceManifest, the devices held compactly (what a bake of 100,000 keeps). */
export async function readDeviceList(file: string): Promise<DeviceList> {
  const format = manifestFormat(file)
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why =
      code === 'ENOENT'
        ? 'not found'
        : code === 'EISDIR'
          ? 'is a directory, not a file'
          : code === 'EACCES'
            ? 'cannot be read (permission denied)'
            : `cannot be read: ${messageOf(error)}`
    throw new ManifestError(`Input "manifest": ${file} ${why} (working directory ${process.cwd()}).`, { file, cause: error })
  }
  return parseDeviceList(decode(bytes, file), file, format)
}

/**
 * Parses manifest text; `file` is used for messages, line annotations and resolving `csr` paths.
 * `format` defaults to the one `file`'s extension names.
 */
export function parseDeviceManifest(text: string, file: string, format: ManifestFormat = manifestFormat(file)): Device[] {
  return parseDeviceList(text, file, format).toArray()
}

/** As parseDeviceManifest, the devices held compactly. */
export function parseDeviceList(text: string, file: string, format: ManifestFormat = manifestFormat(file)): DeviceList {
  const rows = new DeviceCollector(file)
  const body = stripBom(text)
  const empty =
    format === 'csv'
      ? readCsv(body, rows)
      : format === 'json'
        ? readJson(body, rows)
        : format === 'jsonl'
          ? readJsonl(body, rows)
          : readYaml(body, rows)
  return rows.finishList(empty)
}

function decode(bytes: Buffer, file: string): string {
  // Spreadsheets' "Unicode text" is UTF-16; decoding it as UTF-8 would give a confusing error later.
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new ManifestError(`${file}:1: the manifest is UTF-16 encoded; save it as UTF-8 (input "manifest")`, { file, line: 1 })
  }
  return bytes.toString('utf8')
}
