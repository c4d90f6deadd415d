// Running the external tools (debugfs, mtools, xz, zstd): argument arrays only, never a shell
// string; a missing tool becomes a ToolError that says which package to install.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { ToolError } from '../errors.js'

/** Debian/Ubuntu package of each tool we run. */
const PACKAGES: Record<string, string> = {
  debugfs: 'e2fsprogs',
  mmd: 'mtools',
  mcopy: 'mtools',
  mdir: 'mtools',
  xz: 'xz-utils',
  zstd: 'zstd'
}

export function installHint(tool: string): string {
  const pkg = PACKAGES[tool] ?? tool
  const line = pkg === 'e2fsprogs' || pkg === 'mtools' ? 'sudo apt-get install -y e2fsprogs mtools' : `sudo apt-get install -y ${pkg}`
  return `${tool} is in the Debian/Ubuntu package ${pkg}; install it in a workflow step before credbake runs: \`${line}\``
}

export interface ToolResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: Buffer
  stderr: string
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Bytes for stdin; stdin is closed (not a terminal) otherwise, so tools never prompt. */
  input?: Buffer
}

/** Run `tool` with `args`; resolves with its output whatever the exit code (callers judge it). */
export function runTool(tool: string, args: string[], options: RunOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe']
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk))
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') reject(new ToolError(`${tool} was not found on PATH. ${installHint(tool)}`, { cause: error }))
      else reject(new ToolError(`Cannot run ${tool}: ${error.message}`, { cause: error }))
    })
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }))
    if (options.input && child.stdin) child.stdin.end(options.input)
  })
}

/** Non-empty lines of a tool's text output. */
export function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '')
}

/**
 * debugfs reads "?" in an image name as the start of its options and mtools reads "@@" as an
 * offset: when the path has either, run the tool in the file's folder and name it relatively.
 */
export function toolImage(image: string): { name: string; cwd?: string } {
  if (!/[?@]/.test(image)) return { name: image }
  return { name: `./${path.basename(image)}`, cwd: path.dirname(image) }
}
