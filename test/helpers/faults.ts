// Fault injection for the robustness tests (issue 4): a seeded RNG, the CLI as a child process
// that can be killed at a chosen moment, a fake `debugfs` that crashes or lies, size-limited tmpfs
// mounts, and readers for what a run leaves behind (journal, temp files, temp folders).
//
//   const rng = seededRng(seedFromEnv('CREDBAKE_KILL_SEED'))     // prints nothing; log rng.seed yourself
//   const { status, signal, stderr } = await startCli(args, { env }).killAfter(120)
//   const fake = makeFakeDebugfs(dir, { mode: 'segv', failAt: 3 })   // PATH: fake.env.PATH
//   const mounted = mountTmpfs(dir, 2 * MiB)                           // false when not permitted
import { createHash } from 'node:crypto'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, statfsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { NODE20, CLI, ACTION, tempEnv } from './run.js'

// ---- randomness -------------------------------------------------------------------------------

export interface Rng {
  readonly seed: number
  /** Uniform in [0, 1). */
  next(): number
  /** Uniform in [min, max). */
  between(min: number, max: number): number
}

/** mulberry32: small, fast, good enough to spread kill moments; reproducible from its seed. */
export function seededRng(seed: number): Rng {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return { seed: seed >>> 0, next, between: (min, max) => min + (max - min) * next() }
}

/** The seed from `variable` (decimal or 0x hex) when set, else a fresh random one. */
export function seedFromEnv(variable: string): number {
  const given = process.env[variable]
  if (given) return Number(given) >>> 0
  return Math.floor(Math.random() * 2 ** 32) >>> 0
}

// ---- child processes ----------------------------------------------------------------------------

export interface ChildResult {
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** Wall time from spawn to exit, ms. */
  ms: number
  /** True when we killed it (it had not exited by itself). */
  killed: boolean
}

export interface RunningChild {
  pid: number
  /** Resolves when the process has exited. */
  done: Promise<ChildResult>
  /** SIGKILL it after `ms` unless it exits first; resolves with the result either way. */
  killAfter(ms: number): Promise<ChildResult>
  kill(signal?: NodeJS.Signals): void
}

export interface StartOptions {
  env?: Record<string, string | undefined>
  cwd?: string
  node?: string
}

function start(script: string, args: string[], opts: StartOptions, baseEnv: Record<string, string | undefined>): RunningChild {
  const started = performance.now()
  const child = spawn(opts.node ?? NODE20, [script, ...args], {
    cwd: opts.cwd,
    env: { ...baseEnv, ...opts.env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  let killed = false
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const done = new Promise<ChildResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr, ms: performance.now() - started, killed }))
  })
  const kill = (signal: NodeJS.Signals = 'SIGKILL'): void => {
    if (child.exitCode === null && child.signalCode === null) {
      killed = true
      child.kill(signal)
    }
  }
  return {
    pid: child.pid as number,
    done,
    kill,
    killAfter(ms) {
      const timer = setTimeout(() => kill('SIGKILL'), ms)
      return done.finally(() => clearTimeout(timer))
    }
  }
}

/** `node dist/cli.js ARGS` as a child process (the environment is inherited, then `env` applied). */
export function startCli(args: string[], opts: StartOptions = {}): RunningChild {
  return start(CLI, args, opts, process.env)
}

/** `node dist/cli.js ARGS` to completion. */
export function runCliAsync(args: string[], opts: StartOptions = {}): Promise<ChildResult> {
  return startCli(args, opts).done
}

/**
 * `node dist/index.js` as a runner starts it, but asynchronous (so a test can watch RUNNER_TEMP
 * while it runs). `files` are the GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files and RUNNER_TEMP to use.
 */
export function startAction(
  inputs: Record<string, string>,
  files: { outputFile: string; summaryFile: string; runnerTemp: string; workspace: string },
  opts: StartOptions = {}
): RunningChild {
  const env: Record<string, string | undefined> = {
    ...tempEnv(),
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? files.workspace,
    GITHUB_OUTPUT: files.outputFile,
    GITHUB_STEP_SUMMARY: files.summaryFile,
    GITHUB_WORKSPACE: files.workspace,
    RUNNER_TEMP: files.runnerTemp,
    GITHUB_ACTIONS: 'true'
  }
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase().replace(/ /g, '_')}`] = value
  return start(ACTION, [], { ...opts, cwd: opts.cwd ?? files.workspace }, env)
}

/** A pid that belonged to a process that has exited (so `kill(pid, 0)` fails with ESRCH). */
export function deadPid(): number {
  const child = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' })
  const pid = Number(child.stdout.trim())
  try {
    process.kill(pid, 0)
  } catch {
    return pid
  }
  throw new Error(`pid ${pid} is still alive`)
}

// ---- a fake debugfs -------------------------------------------------------------------------

/**
 * What the fake does on the `failAt`-th write run (`debugfs -w -f SCRIPT IMAGE`); every other
 * invocation (read-only probes, `-V`, other write runs) is the real debugfs.
 *
 * - `segv`: runs the real debugfs on the script up to and including its first `write` (part of
 *   the bundle lands in the image), then dies of SIGSEGV.
 * - `exit0-error`: the same partial write, then prints one error line on stderr and exits 0 with
 *   no read-back output (debugfs exit codes mean nothing).
 * - `silent-partial`: the same partial write, stderr holds only the version banner, exit 0, no
 *   read-back output: only the missing read-back tells.
 * - `wrong-mode`: the whole script, but the key file's `sif … mode 0100600` becomes 0100644 (a tool
 *   that silently applies the wrong mode), real read-back: the read-back must catch the mode.
 * - `sleep`: no fault; sleeps `sleepMs` before running the real debugfs (to watch temp files).
 */
export type FakeDebugfsMode = 'segv' | 'exit0-error' | 'silent-partial' | 'wrong-mode' | 'sleep'

export interface FakeDebugfs {
  /** Folder holding the fake `debugfs`; put it first on PATH. */
  bin: string
  /** Folder with its counter, the scripts it was given and snapshots of the temp folder. */
  state: string
  /** Environment for the child: PATH with the fake first, and the fake's settings. */
  env: Record<string, string>
  /** How many write runs it has seen. */
  writeRuns(): number
  /** Pids of the fake's write runs (to kill one orphaned by a SIGKILLed credbake). */
  pids(): number[]
  /** `find -printf '%m %u %y %p'` lines (mode, owner, type, path) of `snapshot` at each write run. */
  snapshots(): string[]
}

export function realDebugfs(): string {
  for (const candidate of ['/usr/sbin/debugfs', '/sbin/debugfs', '/usr/bin/debugfs']) if (existsSync(candidate)) return candidate
  return execFileSync('sh', ['-c', 'command -v debugfs'], { encoding: 'utf8' }).trim()
}

export function makeFakeDebugfs(dir: string, opts: { mode: FakeDebugfsMode; failAt?: number; sleepMs?: number; snapshot?: string }): FakeDebugfs {
  const bin = path.join(dir, 'bin')
  const state = path.join(dir, 'state')
  mkdirSync(bin, { recursive: true })
  mkdirSync(state, { recursive: true })
  const script = `#!/bin/bash
# Fake debugfs for credbake's robustness tests (see test/helpers/faults.ts).
real="$FAKE_DEBUGFS_REAL"
state="$FAKE_DEBUGFS_STATE"
write=0; script=""; args=("$@")
for ((i = 0; i < \${#args[@]}; i++)); do
  [[ \${args[i]} == -w ]] && write=1
  [[ \${args[i]} == -f ]] && script=\${args[i+1]}
done
if [[ $write == 0 || -z $script ]]; then exec "$real" "$@"; fi
n=$(( $(cat "$state/count" 2>/dev/null || echo 0) + 1 ))
echo $n > "$state/count"
cp "$script" "$state/script-$n"
echo $$ > "$state/pid-$n"
if [[ -n $FAKE_DEBUGFS_SNAPSHOT ]]; then
  find "$FAKE_DEBUGFS_SNAPSHOT" -printf '%m %u %y %p\\n' > "$state/snapshot-$n" 2>/dev/null
fi
target="\${args[\${#args[@]}-1]}"
if [[ $n -ne \${FAKE_DEBUGFS_FAIL_AT:-0} && $FAKE_DEBUGFS_MODE != sleep ]]; then exec "$real" "$@"; fi
partial() {
  # Everything up to and including the first "write" command: part of the bundle.
  local upto
  upto=$(grep -n '^write ' "$script" | head -n 1 | cut -d: -f1)
  head -n "$upto" "$script" > "$state/partial-$n"
  "$real" -w -f "$state/partial-$n" "$target" > /dev/null 2> "$state/partial-$n.stderr"
}
case "$FAKE_DEBUGFS_MODE" in
  sleep)
    sleep "$FAKE_DEBUGFS_SLEEP"
    exec "$real" "$@" ;;
  segv)
    partial
    ulimit -c 0
    kill -SEGV $$ ;;
  exit0-error)
    partial
    echo "debugfs 1.47.0 (5-Feb-2023)" >&2
    echo "ext2fs_write_inode: Inode bitmap checksum does not match bitmap while writing inode 18" >&2
    exit 0 ;;
  silent-partial)
    partial
    echo "debugfs 1.47.0 (5-Feb-2023)" >&2
    exit 0 ;;
  wrong-mode)
    sed -E 's/^(sif ".*(pkey|key)\\.pem" mode) 0100600$/\\1 0100644/' "$script" > "$state/altered-$n"
    exec "$real" -w -f "$state/altered-$n" "$target" ;;
esac
echo "fake debugfs: unknown mode $FAKE_DEBUGFS_MODE" >&2
exit 99
`
  const file = path.join(bin, 'debugfs')
  writeFileSync(file, script)
  chmodSync(file, 0o755)
  const env: Record<string, string> = {
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    FAKE_DEBUGFS_REAL: realDebugfs(),
    FAKE_DEBUGFS_STATE: state,
    FAKE_DEBUGFS_MODE: opts.mode,
    FAKE_DEBUGFS_FAIL_AT: String(opts.failAt ?? 0),
    FAKE_DEBUGFS_SLEEP: String((opts.sleepMs ?? 0) / 1000),
    FAKE_DEBUGFS_SNAPSHOT: opts.snapshot ?? ''
  }
  return {
    bin,
    state,
    env,
    writeRuns: () => Number(existsSync(path.join(state, 'count')) ? readFileSync(path.join(state, 'count'), 'utf8').trim() : 0),
    pids: () =>
      readdirSync(state)
        .filter((name) => name.startsWith('pid-'))
        .map((name) => Number(readFileSync(path.join(state, name), 'utf8').trim())),
    snapshots: () =>
      readdirSync(state)
        .filter((name) => name.startsWith('snapshot-'))
        .sort((a, b) => Number(a.slice(9)) - Number(b.slice(9)))
        .map((name) => readFileSync(path.join(state, name), 'utf8'))
  }
}

// ---- size-limited and read-only file systems ----------------------------------------------------

export const PAGE = 4096

/** Mount a tmpfs of `bytes` on `dir` (made if missing). Returns why it could not, or undefined. */
export function mountTmpfs(dir: string, bytes: number): string | undefined {
  mkdirSync(dir, { recursive: true })
  if (process.getuid?.() !== 0) return 'not root: mounting a size-limited tmpfs needs root (or a user namespace)'
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', dir], { encoding: 'utf8' })
  if (result.status !== 0) return `mount -t tmpfs failed: ${(result.stderr || result.error?.message || '').trim()}`
  return undefined
}

/** Make `dir` (a folder inside a mount) read-only by bind-mounting it onto itself, then remounting ro. */
export function bindReadOnly(dir: string): string | undefined {
  const bind = spawnSync('mount', ['--bind', dir, dir], { encoding: 'utf8' })
  if (bind.status !== 0) return `mount --bind failed: ${bind.stderr.trim()}`
  const ro = spawnSync('mount', ['-o', 'remount,bind,ro', dir], { encoding: 'utf8' })
  if (ro.status !== 0) {
    unmount(dir)
    return `mount -o remount,bind,ro failed: ${ro.stderr.trim()}`
  }
  return undefined
}

export function remount(dir: string, mode: 'ro' | 'rw'): void {
  execFileSync('mount', ['-o', `remount,${mode}`, dir])
}

/** Unmount, lazily if busy; never throws (for afterAll). */
export function unmount(dir: string): void {
  if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir])
}

export function isMountPoint(dir: string): boolean {
  return spawnSync('mountpoint', ['-q', dir]).status === 0
}

/** Bytes an unprivileged writer can still allocate on the file system holding `dir`. */
export function freeBytes(dir: string): number {
  const info = statfsSync(dir)
  return info.bavail * info.bsize
}

/**
 * Write `file` so the file system holding it keeps exactly `leave` bytes free (a multiple of the
 * block size). Returns the filler's size.
 */
export function fillLeaving(file: string, leave: number): number {
  const free = freeBytes(path.dirname(file)) + (existsSync(file) ? statSync(file).blocks * 512 : 0)
  const size = free - leave
  if (size < 0) throw new Error(`only ${free} bytes free on ${path.dirname(file)}, cannot leave ${leave}`)
  writeFileSync(file, Buffer.alloc(size, 0x5a))
  const left = freeBytes(path.dirname(file))
  if (left !== leave) throw new Error(`meant to leave ${leave} bytes free on ${path.dirname(file)}, ${left} are`)
  return size
}

// ---- what a run leaves behind -----------------------------------------------------------------

export type JournalLine =
  | { type: 'run'; run: string; at: string; identity: Record<string, unknown>; basis: Record<string, unknown>; overwrite: boolean }
  | {
      type: 'issued'
      run: string
      serial: string
      basis: { deviceId: string; subject: string }
      certificate: { serialNumber: string; sha256: string; pem: string }
      replaces?: { certificateSha256: string; reason: string; changed?: string[] }
    }
  | { type: 'written'; run: string; serial: string; certificateSha256: string; output: { path: string; sha256: string } }
  | { type: 'retired'; run: string; serial: string; certificateSha256: string; path: string }
  | { type: 'complete'; run: string; devices: number }

export interface JournalRead {
  records: JournalLine[]
  /** Lines that are not whole records (a torn append), with their 1-based numbers. */
  torn: Array<{ line: number; text: string }>
  /** Lines that parse but whose checksum does not match their content. */
  badChecksums: number[]
  /** True when the file does not end with a newline. */
  unterminated: boolean
}

/**
 * Read credbake-journal.jsonl independently of credbake's reader, checking each record's checksum
 * as the journal format documents it: the line is `{...,"sum":"S"}` where S is the first 32 hex
 * digits of the SHA-256 of the line with `,"sum":"S"` taken out.
 */
export function readJournalFile(outputDir: string): JournalRead {
  const file = path.join(outputDir, 'credbake-journal.jsonl')
  if (!existsSync(file)) return { records: [], torn: [], badChecksums: [], unterminated: false }
  const text = readFileSync(file, 'utf8')
  const records: JournalLine[] = []
  const torn: Array<{ line: number; text: string }> = []
  const badChecksums: number[] = []
  let summed = false
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return
    try {
      const record = JSON.parse(line) as JournalLine & { sum?: string }
      const sum = record.sum
      const match = /,"sum":"([0-9a-f]{32})"\}$/.exec(line)
      const unsummed = match ? `${line.slice(0, match.index)}}` : ''
      // Format 1 (credbake 0.1) had no checksums: lines before the first summed one may lack them.
      if (sum) summed = true
      if (sum || summed) {
        if (!sum || !match || createHash('sha256').update(unsummed).digest('hex').slice(0, 32) !== sum) badChecksums.push(index + 1)
      }
      delete record.sum
      records.push(record)
    } catch {
      torn.push({ line: index + 1, text: line.slice(0, 120) })
    }
  })
  return { records, torn, badChecksums, unterminated: text.length > 0 && !text.endsWith('\n') }
}

/** Every path under `dir` (relative), recursively; [] when it does not exist. */
export function listTree(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()
}

/** Temporary names credbake uses (".NAME.tmp-PID-RANDOM", ".credbake-probe-PID") under `dir`. */
export function tempLeftovers(dir: string): string[] {
  return listTree(dir).filter((name) => {
    const base = path.basename(name)
    return (base.startsWith('.') && base.includes('.tmp-')) || base.startsWith('.credbake-probe-')
  })
}

/** `credbake-*` entries directly in a temp root (RUNNER_TEMP / TMPDIR). */
export function credbakeTempDirs(root: string): string[] {
  if (!existsSync(root)) return []
  return readdirSync(root).filter((name) => name.startsWith('credbake-'))
}
