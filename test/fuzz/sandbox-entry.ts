// The child side of the fuzz/corpus sandbox (test/helpers/corpus.ts bundles this file with
// rolldown and forks it, on Node 20 or Node 24). It runs one product call per IPC message and
// answers with what happened, classified: a value, a typed CredbakeError, or anything else ("raw").
// Running the code under test in a child lets the parent enforce a per-call timeout (the
// manifest and PEM readers are synchronous: a timer in the same process could never interrupt
// them), cap the heap (--max-old-space-size) and observe crashes, without taking vitest down.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadFleetCa } from '../../src/ca/load.js'
import { main } from '../../src/cli/main.js'
import { CredbakeError } from '../../src/errors.js'
import { formatPartitionTable, readDiskLayout, selectPartition } from '../../src/image/table.js'
import { parseDeviceManifest, readDeviceManifest, type ManifestFormat } from '../../src/manifest/read.js'
import type { Lifetime } from '../../src/settings/types.js'
import { parsePem } from '../../src/util/pem.js'
import type { SandboxOutcome, SandboxReply, SandboxRequest } from '../helpers/corpus.js'

// Deep enough to see which product function a library error came through (known-bug matching).
Error.stackTraceLimit = 50

// The parent makes (and removes, even after killing this process) the scratch folder.
const scratch = process.env.SANDBOX_SCRATCH_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'credbake-sandbox-'))
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }))

let fileCounter = 0
function scratchFile(name: string, bytes: Uint8Array): string {
  const file = path.join(scratch, `${++fileCounter}-${name}`)
  writeFileSync(file, bytes)
  return file
}

type Target = (...args: never[]) => unknown

const TARGETS: Record<string, Target> = {
  /** Manifest text through the parser for one format. */
  parseManifest(text: string, file: string, format: ManifestFormat) {
    return { devices: parseDeviceManifest(text, file, format).length }
  },
  /** Manifest bytes through the file reader (decoding, BOM/UTF-16 detection, extension → format). */
  async readManifest(bytes: Uint8Array, name: string) {
    const file = scratchFile(name, bytes)
    try {
      return { devices: (await readDeviceManifest(file)).length }
    } finally {
      rmSync(file, { force: true })
    }
  },
  parsePem(text: string, input: string) {
    return { blocks: parsePem(text, { input, origin: `input ${input}` }).length }
  },
  loadFleetCa(certText: string, keyText: string, passphrase: string | undefined, lifetime: Lifetime) {
    const ca = loadFleetCa({
      cert: { input: 'fleet-ca-cert', text: certText, origin: 'input fleet-ca-cert' },
      key: { input: 'fleet-ca-key', text: keyText, origin: 'input fleet-ca-key' },
      passphrase,
      lifetime
    })
    return { subject: ca.subject, key: ca.keyDescription }
  },
  /**
   * Image bytes (or a path) through the partition-table reader, then what the sink does next with
   * a layout: format it for messages and select a partition (default and by number).
   */
  async readDiskLayout(bytesOrPath: Uint8Array | string) {
    const file = typeof bytesOrPath === 'string' ? bytesOrPath : scratchFile('image.img', bytesOrPath)
    try {
      const layout = await readDiskLayout(file)
      formatPartitionTable(layout)
      const selected: string[] = []
      for (const selector of [undefined, { kind: 'number', number: 1 } as const, { kind: 'label', value: 'rootfs' } as const]) {
        try {
          selected.push(String(selectPartition(layout, selector).number))
        } catch (error) {
          if (!(error instanceof CredbakeError)) throw error
          selected.push(error.kind)
        }
      }
      return { table: layout.table, partitions: layout.partitions.length, selected }
    } finally {
      if (typeof bytesOrPath !== 'string') rmSync(file, { force: true })
    }
  },
  /** The CLI, in this process. */
  async main(argv: string[], cwd?: string) {
    if (cwd) process.chdir(cwd)
    let stdout = ''
    let stderr = ''
    const code = await main(argv, { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text) })
    return { code, stdout, stderr }
  }
}

function classify(error: unknown): SandboxOutcome {
  if (error instanceof CredbakeError) {
    return { status: 'typed', name: error.name, kind: error.kind, input: error.input ?? null, message: error.message.slice(0, 4000) }
  }
  const e = error as { name?: unknown; message?: unknown; stack?: unknown; code?: unknown } | null
  return {
    status: 'raw',
    name: typeof e?.name === 'string' ? e.name : typeof error,
    code: typeof e?.code === 'string' ? e.code : null,
    message: String(e?.message ?? error).slice(0, 4000),
    stack: typeof e?.stack === 'string' ? e.stack.slice(0, 8000) : ''
  }
}

process.on('message', (message: SandboxRequest) => {
  void (async () => {
    const target = TARGETS[message.target]
    const started = performance.now()
    let outcome: SandboxOutcome
    try {
      if (!target) throw new Error(`sandbox: no target ${message.target}`)
      outcome = { status: 'ok', value: await (target as (...args: unknown[]) => unknown)(...message.args) }
    } catch (error) {
      outcome = classify(error)
    }
    const reply: SandboxReply = {
      id: message.id,
      outcome,
      ms: performance.now() - started,
      maxRssKiB: process.resourceUsage().maxRSS
    }
    process.send?.(reply)
  })()
})

process.send?.({ ready: true, node: process.version })
