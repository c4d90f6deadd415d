// Reads the device manifest (`manifest` input) in any of its formats into validated devices.
// Every problem names file:line; all bad rows are collected so one run reports them together.
import path from 'node:path'
import { ManifestError } from '../errors.js'
import { checkBoundedFileSync, INPUT_LIMITS, readBounded, whyUnreadable } from '../util/bounded-read.js'
import { escapeText } from '../util/log-text.js'
import { readCsv } from './csv.js'
import { readJson, readJsonl } from './json.js'
import { stripBom } from './lines.js'
import { DeviceList } from './list.js'
import { Problems, show } from './problems.js'
import { DeviceCollector, type CollectorOptions } from './rows.js'
import type { Device } from './types.js'
import { readYaml } from './yaml.js'

export { selectShard, selectShardOf, shardOf, type Shard } from './shard.js'
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
    throw new ManifestError(`Input "manifest": ${escapeText(file)} ${what}; use one of ${ACCEPTED}.`, { file })
  }
  return format
}

export interface ReadOptions extends CollectorOptions {
  /** Told what is suspicious but allowed (device IDs that differ only in case). */
  warn?: (message: string, where: { file: string; line?: number }) => void
}

/** Reads and validates the manifest at `file` (relative paths from the working directory). */
export async function readDeviceManifest(file: string, options: ReadOptions = {}): Promise<Device[]> {
  return (await readDeviceList(file, options)).toArray()
}

/**
 * As readDeviceManifest, the devices held compactly (what a bake of 100,000 keeps). The file is
 * read within INPUT_LIMITS.manifest, and every `csr` a row names is checked (a regular file
 * within INPUT_LIMITS.csr) before this returns, so a bad CSR stops the run before any device is
 * issued.
 */
export async function readDeviceList(file: string, options: ReadOptions = {}): Promise<DeviceList> {
  const format = manifestFormat(file)
  let bytes: Buffer
  try {
    bytes = await readBounded(file, { maxBytes: INPUT_LIMITS.manifest, what: 'a device manifest' })
  } catch (error) {
    throw new ManifestError(`Input "manifest": ${escapeText(file)} ${whyUnreadable(error)} (working directory ${escapeText(process.cwd())}).`, { file, cause: error })
  }
  const list = parseDeviceList(decode(bytes, file), file, format, options)
  checkCsrFiles(list)
  return list
}

/** Every `csr` a row names is a regular file of at most INPUT_LIMITS.csr; each one that is not is a problem of its row. */
function checkCsrFiles(list: DeviceList): void {
  const problems = new Problems(list.file)
  for (const [row, csr] of list.csrPaths()) {
    try {
      checkBoundedFileSync(csr, { maxBytes: INPUT_LIMITS.csr, what: 'a CSR' })
    } catch (error) {
      problems.add(list.line(row), `csr ${show(csr)} ${whyUnreadable(error)}`)
    }
  }
  problems.throwIfAny()
}

/**
 * Parses manifest text; `file` is used for messages, line annotations and resolving `csr` paths.
 * `format` defaults to the one `file`'s extension names.
 */
export function parseDeviceManifest(text: string, file: string, format: ManifestFormat = manifestFormat(file), options: ReadOptions = {}): Device[] {
  return parseDeviceList(text, file, format, options).toArray()
}

/** As parseDeviceManifest, the devices held compactly. */
export function parseDeviceList(text: string, file: string, format: ManifestFormat = manifestFormat(file), options: ReadOptions = {}): DeviceList {
  const rows = new DeviceCollector(file, options)
  const body = stripBom(text)
  const empty = format === 'csv' ? readCsv(body, rows) : format === 'json' ? readJson(body, rows) : format === 'jsonl' ? readJsonl(body, rows) : readYaml(body, rows)
  const list = rows.finishList(empty)
  for (const warning of rows.warnings) options.warn?.(warning, { file })
  return list
}

function decode(bytes: Buffer, file: string): string {
  // Spreadsheets' "Unicode text" is UTF-16; decoding it as UTF-8 would give a confusing error later.
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new ManifestError(`${escapeText(file)}:1: the manifest is UTF-16 encoded; save it as UTF-8 (input "manifest")`, { file, line: 1 })
  }
  return bytes.toString('utf8')
}
