#!/usr/bin/env node
// npm run bench:image — credbake `bake --format image` against the best hand-written shell loop
// (`cp --sparse=always` + one `debugfs -w -f script` per device), on a 256 MiB GPT image holding
// 64 MiB of data, for the same devices, several rounds alternating. Runs the bundled CLI
// (dist/cli.js): plain Node, no TypeScript loader. How to read the output: bench/README.md.
//
// Environment: BENCH_DEVICES (64), BENCH_ROUNDS (3), BENCH_QUICK=1 (32 devices, 2 rounds), BENCH_DIR (a new folder under the OS temp
// dir), BENCH_BREAKDOWN=0 to skip the breakdown runs, BENCH_KEEP=1 to keep the work folder,
// BENCH_LARGE=1 for the large-base run (4 GiB sparse, 1.5 GiB of data: peak RSS).
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { freshPages, loadAverage as loadavg } from './fleet.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const CLI = path.join(ROOT, 'dist/cli.js')
const DEVICES = Number(process.env.BENCH_DEVICES ?? 64)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const BREAKDOWN = process.env.BENCH_BREAKDOWN !== '0'
const MiB = 1024 * 1024
const IMAGE_SIZE = 256 * MiB
const DATA_SIZE = 64 * MiB
const BOOT_SIZE = 32 * MiB
const CRED_DIR = '/var/sota/import'

function log(line = '') {
  process.stdout.write(`${line}\n`)
}

/** Run a tool (argument array, no shell); throw with its stderr when it fails. */
function tool(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * MiB, ...options, env: { ...process.env, MTOOLS_SKIP_CHECK: '1', ...options.env } })
  if (result.error) throw new Error(`${cmd}: ${result.error.message}`)
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${result.status}: ${result.stderr}`)
  return result.stdout
}

/** Wall time of a child process in ms; throws (with its output) when it fails. */
function timed(cmd, args, options = {}) {
  const start = performance.now()
  const result = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * MiB, ...options })
  const ms = performance.now() - start
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`)
  return { ms, stdout: result.stdout, stderr: result.stderr }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const fmt = (ms) => `${ms.toFixed(1)} ms`

function requireTools() {
  const missing = ['sfdisk', 'mkfs.ext4', 'mkfs.vfat', 'mcopy', 'debugfs', 'openssl', 'cp', 'bash', 'sync'].filter(
    (cmd) => spawnSync('bash', ['-c', `command -v ${cmd}`]).status !== 0
  )
  if (missing.length) {
    throw new Error(`missing tools: ${missing.join(', ')} (sudo apt-get install -y e2fsprogs dosfstools mtools fdisk openssl)`)
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} does not exist: run npm run bundle first`)
}

// ---- fixtures ---------------------------------------------------------------------------------

/** 256 MiB GPT: 1 "boot" FAT16 (32 MiB), 2 "rootfs" ext4 (the rest) holding 64 MiB of files. */
export function buildImage(work, { imageSize = IMAGE_SIZE, dataSize = DATA_SIZE } = {}) {
  const image = path.join(work, 'base.img')
  tool('truncate', ['-s', String(imageSize), image])
  tool('sfdisk', ['-q', image], { input: `label: gpt\nsize=${BOOT_SIZE / 512}, type=U, name=boot\ntype=L, name=rootfs\n` })
  const parts = JSON.parse(tool('sfdisk', ['--json', image])).partitiontable.partitions
  const [boot, rootfs] = parts.map((p) => ({ start: p.start * 512, size: p.size * 512 }))

  const bootFs = path.join(work, 'boot.fs')
  tool('mkfs.vfat', ['-C', '-n', 'BOOT', bootFs, String(boot.size / 1024)])
  writeFileSync(path.join(work, 'config.txt'), 'enable_uart=1\n')
  tool('mcopy', ['-i', bootFs, path.join(work, 'config.txt'), '::/config.txt'])

  // 64 MiB of files in varied sizes: half random bytes, half repetitive (text-like) data.
  const tree = path.join(work, 'rootfs.d')
  for (const dir of ['etc', 'var/lib', 'usr/lib/firmware', 'usr/share/doc']) mkdirSync(path.join(tree, dir), { recursive: true })
  writeFileSync(path.join(tree, 'etc/hostname'), 'bench\n')
  writeFileSync(path.join(tree, 'etc/os-release'), 'ID=bench\n')
  let left = dataSize
  for (let i = 0; left > 0; i++) {
    const size = Math.min(left, (256 + ((i * 389) % 1536)) * 1024 * (dataSize > 256 * MiB ? 8 : 1))
    const content = i % 2 ? randomBytes(size) : Buffer.from(`line ${i} of some firmware text\n`.repeat(Math.ceil(size / 28))).subarray(0, size)
    writeFileSync(path.join(tree, i % 2 ? 'usr/lib/firmware' : 'usr/share/doc', `f${String(i).padStart(3, '0')}.bin`), content)
    left -= size
  }
  const rootFs = path.join(work, 'rootfs.fs')
  tool('mkfs.ext4', ['-F', '-q', '-L', 'rootfs', '-E', 'nodiscard', '-d', tree, rootFs, `${rootfs.size / 1024}k`])
  for (const [fs, part] of [
    [bootFs, boot],
    [rootFs, rootfs]
  ]) {
    tool('dd', [`if=${fs}`, `of=${image}`, 'bs=1M', `seek=${part.start}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none'])
    rmSync(fs)
  }
  rmSync(tree, { recursive: true })
  return { image, rootfs }
}

/** A throwaway fleet CA, and for the baseline one device's client.pem / pkey.pem made with openssl. */
export function makePki(work) {
  const caKey = path.join(work, 'ca.key')
  const caCert = path.join(work, 'ca.pem')
  tool('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    caKey,
    '-out',
    caCert,
    '-days',
    '3650',
    '-subj',
    '/CN=credbake bench fleet CA (throwaway)',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign'
  ])
  const files = path.join(work, 'baseline-files')
  mkdirSync(files)
  const csr = tool('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(files, 'pkey.pem'), '-subj', '/CN=BENCH-0001'])
  tool('openssl', ['x509', '-req', '-CA', caCert, '-CAkey', caKey, '-days', '365', '-out', path.join(files, 'client.pem')], { input: csr })
  writeFileSync(path.join(files, 'root.crt'), readFileSync(caCert))
  return { caKey, caCert, files }
}

export function writeManifest(work, count, name = 'devices.csv') {
  const serials = Array.from({ length: count }, (_, i) => `BENCH-${String(i + 1).padStart(4, '0')}`)
  const file = path.join(work, name)
  writeFileSync(file, ['serial', ...serials, ''].join('\n'))
  return { file, serials }
}

/**
 * The hand-written baseline: one bash loop, per device `cp --sparse=always` then one
 * `debugfs -w -f SCRIPT 'IMAGE?offset=N'` that makes the directory chain and writes the same three
 * files with the same modes and owner as credbake (sif). Script and files are made beforehand.
 */
function writeBaseline(work, pki, rootfs, serials) {
  const script = path.join(work, 'baseline.debugfs')
  const lines = ['mkdir /var/sota', `mkdir ${CRED_DIR}`]
  for (const [name, mode] of [
    ['client.pem', '0644'],
    ['pkey.pem', '0600'],
    ['root.crt', '0644']
  ]) {
    const target = `${CRED_DIR}/${name}`
    lines.push(`write ${path.join(pki.files, name)} ${target}`, `sif ${target} mode 0100${mode.slice(1)}`, `sif ${target} uid 0`, `sif ${target} gid 0`)
  }
  writeFileSync(script, `${lines.join('\n')}\n`)
  const list = path.join(work, 'serials.txt')
  writeFileSync(list, `${serials.join('\n')}\n`)
  const loop = path.join(work, 'baseline.sh')
  writeFileSync(
    loop,
    [
      'set -e',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
      'base="$1"; out="$2"; offset="$3"; script="$4"; list="$5"; mode="${6:-}"',
      'mkdir -p "$out"',
      'while read -r serial; do',
      '  cp --sparse=always "$base" "$out/$serial.img"',
      '  [ "$mode" = copy-only ] || debugfs -w -f "$script" "$out/$serial.img?offset=$offset" >/dev/null 2>&1',
      '  [ "$mode" != dgst ] || openssl dgst -sha256 "$out/$serial.img" >> "$out/.sha256"',
      'done < "$list"',
      ''
    ].join('\n')
  )
  /** mode: '' (cp + debugfs), 'dgst' (cp + debugfs + openssl dgst -sha256), 'copy-only'. */
  return (base, out, mode = '') => ['bash', [loop, base, out, String(rootfs.start), script, list, ...(mode ? [mode] : [])]]
}

/** The first output of a baseline run holds what it should (debugfs exits 0 even on failure). */
function checkBaselineOutput(out, rootfs, pki, serial) {
  const image = `${path.join(out, `${serial}.img`)}?offset=${rootfs.start}`
  const client = execFileSync('debugfs', ['-R', `cat ${CRED_DIR}/client.pem`, image], { stdio: ['ignore', 'pipe', 'ignore'] })
  if (!client.equals(readFileSync(path.join(pki.files, 'client.pem')))) throw new Error(`baseline output ${image} does not hold client.pem`)
  const stat = execFileSync('debugfs', ['-R', `stat ${CRED_DIR}/pkey.pem`, image], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, DEBUGFS_PAGER: '__none__' }
  }).toString()
  if (!/Mode:\s+0600/.test(stat) || !/User:\s+0\s+Group:\s+0/.test(stat)) throw new Error(`baseline output ${image}: pkey.pem mode/owner wrong:\n${stat}`)
}

/** `node dist/cli.js bake` arguments; `image` null for formats without an image (dir). */
function credbakeArgs(manifest, pki, image, out, format = 'image') {
  return [
    CLI,
    'bake',
    '--manifest',
    manifest,
    '--fleet-ca-cert',
    pki.caCert,
    '--fleet-ca-key',
    pki.caKey,
    '--server-ca',
    pki.caCert,
    ...(image ? ['--image', image, '--partition', 'label=rootfs'] : []),
    '--format',
    format,
    '--output-dir',
    out
  ]
}

function countFiles(dir) {
  return existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('.')).length : 0
}

/** Remove a run's outputs and let writeback settle, so the next timed run starts alike. */
function clear(dir) {
  rmSync(dir, { recursive: true, force: true })
  spawnSync('sync')
}

function sha256OfFile(file) {
  const hash = createHash('sha256')
  const fd = openSync(file, 'r')
  const buffer = Buffer.allocUnsafe(8 * MiB)
  try {
    let offset = 0
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, offset)
      if (n === 0) break
      hash.update(buffer.subarray(0, n))
      offset += n
    }
  } finally {
    closeSync(fd)
  }
  return hash.digest('hex')
}

// ---- the run ----------------------------------------------------------------------------------

/**
 * Time credbake `bake --format image` against the two shell loops (cp + debugfs, and cp + debugfs
 * + `openssl dgst -sha256`, the like-for-like one: it gives the same digest credbake puts in its
 * manifest), for the same devices, rounds alternating which side goes first. Returns the figures;
 * `printImageResult` prints the summary. Options: devices, rounds, dir (work folder), breakdown,
 * quick (2 rounds of 32 devices, no breakdown), keep, log (line printer; silent when null).
 */
export async function benchImages(options = {}) {
  const quick = options.quick === true
  const devices = options.devices ?? (quick && process.env.BENCH_DEVICES === undefined ? 32 : DEVICES)
  const rounds = options.rounds ?? (quick ? 2 : ROUNDS)
  const breakdown = options.breakdown ?? (quick ? false : BREAKDOWN)
  const say = options.log === null ? () => {} : (options.log ?? log)
  requireTools()
  const work = options.dir ? path.resolve(options.dir) : mkdtempSync(path.join(os.tmpdir(), 'credbake-bench-image-'))
  mkdirSync(work, { recursive: true })
  const fsType = spawnSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', work], { encoding: 'utf8' }).stdout.trim().split('\n')[0] || '?'
  const node = process.execPath
  const result = { devices, rounds, work, fsType, loadStart: loadavg(), rounds_: [] }
  say(`credbake image benchmark: ${devices} devices, ${rounds} rounds, work folder ${work}`)
  say(
    `machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ` +
      `${spawnSync('debugfs', ['-V'], { encoding: 'utf8' }).stderr.split('\n')[0]}`
  )
  say(`file system of the work folder: ${fsType}`)
  say(`load average at start: ${result.loadStart}`)
  result.freshPages = freshPages(work)
  say(`new pages (256 MiB into a new file in the work folder, no fsync): ${result.freshPages?.toFixed(0) ?? '?'} MB/s`)
  try {
    const setupStart = performance.now()
    const { image, rootfs } = buildImage(work)
    const pki = makePki(work)
    const { file: manifest, serials } = writeManifest(work, devices)
    const baseline = writeBaseline(work, pki, rootfs, serials)
    const allocated = statSync(image).blocks * 512
    say(
      `base image: ${IMAGE_SIZE / MiB} MiB GPT, rootfs ext4 at byte ${rootfs.start} (${(rootfs.size / MiB).toFixed(0)} MiB), ` +
        `${(allocated / MiB).toFixed(1)} MiB allocated; set up in ${fmt(performance.now() - setupStart)}`
    )

    // Warm-up (not timed): page cache for the base, Node's code cache, debugfs and openssl in memory.
    const warm = writeManifest(work, 2, 'warm.csv')
    timed(node, credbakeArgs(warm.file, pki, image, path.join(work, 'warm-credbake')))
    const [wcmd, wargs] = baseline(image, path.join(work, 'warm-shell'), 'dgst')
    timed(wcmd, wargs)
    clear(path.join(work, 'warm-credbake'))
    clear(path.join(work, 'warm-shell'))
    await pause()

    const times = { credbake: [], dgst: [], plain: [] }
    const orders = [
      ['credbake', 'dgst', 'plain'],
      ['plain', 'dgst', 'credbake'],
      ['dgst', 'credbake', 'plain']
    ]
    for (let round = 1; round <= rounds; round++) {
      const sides = orders[(round - 1) % orders.length]
      for (const side of sides) {
        const out = path.join(work, `out-${side}-${round}`)
        if (side === 'credbake') {
          const { ms } = timed(node, credbakeArgs(manifest, pki, image, out))
          const doc = JSON.parse(readFileSync(path.join(out, 'credbake-manifest.json'), 'utf8'))
          if (doc.devices.length !== devices || countFiles(path.join(out, 'images')) !== devices) throw new Error(`credbake round ${round}: not ${devices} images`)
          // The manifest's digest is the file's: check one output with an independent hash.
          const first = doc.devices[0]
          const file = path.join(out, first.output?.path ?? first.path ?? `images/${serials[0]}.img`)
          const expected = first.output?.sha256 ?? first.sha256
          if (expected !== undefined && sha256OfFile(file) !== expected) throw new Error(`credbake round ${round}: ${file} does not hash to the manifest's SHA-256`)
          times.credbake.push(ms)
        } else {
          const [cmd, args] = baseline(image, out, side === 'dgst' ? 'dgst' : '')
          const { ms } = timed(cmd, args)
          if (countFiles(out) !== devices) throw new Error(`shell round ${round}: not ${devices} images`)
          checkBaselineOutput(out, rootfs, pki, serials[0])
          if (side === 'dgst' && readFileSync(path.join(out, '.sha256'), 'utf8').trim().split('\n').length !== devices)
            throw new Error(`dgst loop round ${round}: not ${devices} digests`)
          times[side].push(ms)
        }
        clear(out)
        await pause()
      }
      const last = (list) => list.at(-1) / devices
      say(
        `round ${round} (${sides.join(', ')}): credbake ${fmt(last(times.credbake))}/device, loop with dgst ${fmt(last(times.dgst))}, ` +
          `loop without ${fmt(last(times.plain))}; ratios ${(times.credbake.at(-1) / times.dgst.at(-1)).toFixed(2)} / ${(times.credbake.at(-1) / times.plain.at(-1)).toFixed(2)}; load ${loadavg()}`
      )
    }
    const perDevice = (list) => median(list.map((ms) => ms / devices))
    Object.assign(result, {
      credbakeMs: perDevice(times.credbake),
      loopMs: perDevice(times.dgst),
      loopNoDgstMs: perDevice(times.plain),
      ratioVsLoop: perDevice(times.credbake) / perDevice(times.dgst),
      ratioVsLoopNoDgst: perDevice(times.credbake) / perDevice(times.plain),
      pairedRatioVsLoop: median(times.credbake.map((ms, i) => ms / times.dgst[i])),
      pairedRatioVsLoopNoDgst: median(times.credbake.map((ms, i) => ms / times.plain[i])),
      times
    })

    if (breakdown) {
      const lines = []
      const one = writeManifest(work, 1, 'one.csv')
      const startup = timed(node, [CLI, '--help']).ms
      lines.push(`node dist/cli.js --help (process start)          ${fmt(startup)} once`)
      const oneRun = timed(node, credbakeArgs(one.file, pki, image, path.join(work, 'b-one'))).ms
      clear(path.join(work, 'b-one'))
      lines.push(`credbake, 1 device (fixed costs + 1 device)      ${fmt(oneRun)} once`)
      const all = timed(node, credbakeArgs(manifest, pki, image, path.join(work, 'b-all'))).ms
      clear(path.join(work, 'b-all'))
      lines.push(`credbake, ${devices} devices: marginal cost per device   ${fmt((all - oneRun) / (devices - 1))}  ((t${devices} - t1) / ${devices - 1})`)
      const part = timed(node, credbakeArgs(manifest, pki, image, path.join(work, 'b-part'), 'partition')).ms
      clear(path.join(work, 'b-part'))
      lines.push(`credbake --format partition (${(rootfs.size / MiB).toFixed(0)} MiB each)      ${fmt(part / devices)}`)
      const [ccmd, cargs] = baseline(image, path.join(work, 'b-cp'), 'copy-only')
      const cpOnly = timed(ccmd, cargs).ms
      const sample = path.join(work, 'b-cp', `${serials[0]}.img`)
      const hashStart = performance.now()
      sha256OfFile(sample)
      const hash = performance.now() - hashStart
      clear(path.join(work, 'b-cp'))
      lines.push(`shell: cp --sparse=always alone                  ${fmt(cpOnly / devices)}`)
      lines.push(`shell: debugfs alone (loop - cp)                 ${fmt(result.loopNoDgstMs - cpOnly / devices)}`)
      lines.push(`shell: openssl dgst alone (loop - loop w/o)      ${fmt(result.loopMs - result.loopNoDgstMs)}`)
      lines.push(`SHA-256 of one ${IMAGE_SIZE / MiB} MiB output (node:crypto)     ${fmt(hash)}`)
      result.breakdown = lines
    }
    result.loadEnd = loadavg()
    return result
  } finally {
    if (options.keep ?? process.env.BENCH_KEEP === '1') say(`kept ${work}`)
    else rmSync(work, { recursive: true, force: true })
  }
}

/** Print what benchImages measured. */
export function printImageResult(result, say = log) {
  const { devices, rounds } = result
  say('')
  say(`IMAGES (${devices} devices, ${result.fsType}, median of ${rounds} rounds, per device, end to end):`)
  say(`  credbake bake --format image          ${fmt(result.credbakeMs)}   (issue + write + read back + SHA-256 + manifest + sync)`)
  say(`  loop cp + debugfs + openssl dgst      ${fmt(result.loopMs)}   (the like-for-like loop: same digest, no checks)`)
  say(`  loop cp + debugfs                     ${fmt(result.loopNoDgstMs)}   (no digest)`)
  say(`  ratio credbake / loop with dgst       ${result.ratioVsLoop.toFixed(2)}   (median of per-round ratios ${result.pairedRatioVsLoop.toFixed(2)}; target <= 0.40)`)
  say(`  ratio credbake / loop without dgst    ${result.ratioVsLoopNoDgst.toFixed(2)}   (median of per-round ratios ${result.pairedRatioVsLoopNoDgst.toFixed(2)})`)
  if (result.breakdown) {
    say('')
    say('BREAKDOWN (one run each; per device unless noted):')
    for (const line of result.breakdown) say(`  ${line}`)
  }
  say(`  load average: ${result.loadStart} at start, ${result.loadEnd} at end (${os.cpus().length} CPUs; other processes share this machine, so compare within a run)`)
  say(`  new pages in the work folder: ${result.freshPages?.toFixed(0) ?? '?'} MB/s (outputs are new pages: where this is low, it sets the pace)`)
}

/** After deleting outputs: let writeback and discards settle before the next timed run. */
function pause(ms = Number(process.env.BENCH_PAUSE_MS ?? 2000)) {
  spawnSync('sync')
  return new Promise((resolve) => setTimeout(resolve, ms))
}

const GiB = 1024 * MiB

/**
 * Large bases: a 4 GiB sparse image holding 1.5 GiB of data (BENCH_LARGE_SIZE / BENCH_LARGE_DATA
 * in MiB to change), baked for a few devices (BENCH_LARGE_DEVICES, 2), with the peak RSS of the
 * whole credbake process (worker threads included: VmHWM from /proc/self/status at exit, read by a
 * preloaded probe) and the outputs checked against an independent SHA-256.
 */
export async function benchLargeImage(options = {}) {
  const say = options.log === null ? () => {} : (options.log ?? log)
  const imageSize = (options.sizeMiB ?? Number(process.env.BENCH_LARGE_SIZE ?? 4096)) * MiB
  const dataSize = (options.dataMiB ?? Number(process.env.BENCH_LARGE_DATA ?? 1536)) * MiB
  const devices = options.devices ?? Number(process.env.BENCH_LARGE_DEVICES ?? 2)
  requireTools()
  const work = options.dir ? path.resolve(options.dir) : mkdtempSync(path.join(os.tmpdir(), 'credbake-bench-large-'))
  mkdirSync(work, { recursive: true })
  try {
    say(`credbake large-base benchmark: ${(imageSize / GiB).toFixed(1)} GiB image, ${(dataSize / GiB).toFixed(2)} GiB of data, ${devices} devices, work folder ${work}`)
    const setupStart = performance.now()
    const { image } = buildImage(work, { imageSize, dataSize })
    const pki = makePki(work)
    const { file: manifest } = writeManifest(work, devices)
    say(`base image built in ${fmt(performance.now() - setupStart)}: ${((statSync(image).blocks * 512) / MiB).toFixed(0)} MiB allocated; load ${loadavg()}`)
    const probe = path.join(work, 'probe.cjs')
    const peakFile = path.join(work, 'peak.txt')
    writeFileSync(
      probe,
      [
        "'use strict'",
        "process.on('exit', () => {",
        "  const status = require('node:fs').readFileSync('/proc/self/status', 'utf8')",
        "  require('node:fs').writeFileSync(process.env.CREDBAKE_BENCH_PEAK, (/VmHWM:\\s+(\\d+)/.exec(status) || [])[1] || '')",
        '})',
        ''
      ].join('\n')
    )
    const out = path.join(work, 'out')
    const { ms } = timed(process.execPath, ['-r', probe, ...credbakeArgs(manifest, pki, image, out)], { env: { ...process.env, CREDBAKE_BENCH_PEAK: peakFile } })
    const peakKiB = Number(readFileSync(peakFile, 'utf8'))
    const doc = JSON.parse(readFileSync(path.join(out, 'credbake-manifest.json'), 'utf8'))
    let checked = 0
    for (const device of doc.devices) {
      const file = path.join(out, device.output?.path ?? device.path)
      if (sha256OfFile(file) !== (device.output?.sha256 ?? device.sha256)) throw new Error(`${file} does not hash to the manifest's SHA-256`)
      checked++
    }
    const result = { imageSize, dataSize, devices, ms, msPerDevice: ms / devices, peakRssMiB: peakKiB / 1024, checked, load: loadavg() }
    say(
      `LARGE BASE: ${devices} devices in ${fmt(ms)} (${fmt(ms / devices)}/device), peak RSS ${result.peakRssMiB.toFixed(0)} MiB (target <= 512), ` +
        `${checked} outputs match an independent SHA-256; load ${result.load}`
    )
    return result
  } finally {
    if (options.keep ?? process.env.BENCH_KEEP === '1') say(`kept ${work}`)
    else rmSync(work, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const run =
    process.env.BENCH_LARGE === '1'
      ? benchLargeImage({ dir: process.env.BENCH_DIR })
      : benchImages({ dir: process.env.BENCH_DIR, quick: process.env.BENCH_QUICK === '1' }).then((result) => printImageResult(result))
  run.catch((error) => {
    process.stderr.write(`${error.stack ?? error}\n`)
    process.exitCode = 1
  })
}
