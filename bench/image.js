#!/usr/bin/env node
// npm run bench:image — credbake `bake --format image` against the best hand-written shell loop
// (`cp --sparse=always` + one `debugfs -w -f script` per device), on a 256 MiB GPT image holding
// 64 MiB of data, for the same devices, several rounds alternating. Runs the bundled CLI
// (dist/cli.js): plain Node, no TypeScript loader. How to read the output: bench/README.md.
//
// Environment: BENCH_DEVICES (64), BENCH_ROUNDS (3), BENCH_DIR (a new folder under the OS temp
// dir), BENCH_BREAKDOWN=0 to skip the breakdown runs, BENCH_KEEP=1 to keep the work folder.
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

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
const loadavg = () => os.loadavg().map((n) => n.toFixed(2)).join(' ')

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
function buildImage(work) {
  const image = path.join(work, 'base.img')
  tool('truncate', ['-s', String(IMAGE_SIZE), image])
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
  let left = DATA_SIZE
  for (let i = 0; left > 0; i++) {
    const size = Math.min(left, (256 + ((i * 389) % 1536)) * 1024)
    const content = i % 2 ? randomBytes(size) : Buffer.from(`line ${i} of some firmware text\n`.repeat(Math.ceil(size / 28))).subarray(0, size)
    writeFileSync(path.join(tree, i % 2 ? 'usr/lib/firmware' : 'usr/share/doc', `f${String(i).padStart(3, '0')}.bin`), content)
    left -= size
  }
  const rootFs = path.join(work, 'rootfs.fs')
  tool('mkfs.ext4', ['-F', '-q', '-L', 'rootfs', '-E', 'nodiscard', '-d', tree, rootFs, `${rootfs.size / 1024}k`])
  for (const [fs, part] of [[bootFs, boot], [rootFs, rootfs]]) {
    tool('dd', [`if=${fs}`, `of=${image}`, 'bs=1M', `seek=${part.start}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none'])
    rmSync(fs)
  }
  rmSync(tree, { recursive: true })
  return { image, rootfs }
}

/** A throwaway fleet CA, and for the baseline one device's client.pem / pkey.pem made with openssl. */
function makePki(work) {
  const caKey = path.join(work, 'ca.key')
  const caCert = path.join(work, 'ca.pem')
  tool('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caCert, '-days', '3650',
    '-subj', '/CN=credbake bench fleet CA (throwaway)', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  const files = path.join(work, 'baseline-files')
  mkdirSync(files)
  const csr = tool('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(files, 'pkey.pem'), '-subj', '/CN=BENCH-0001'])
  tool('openssl', ['x509', '-req', '-CA', caCert, '-CAkey', caKey, '-days', '365', '-out', path.join(files, 'client.pem')], { input: csr })
  writeFileSync(path.join(files, 'root.crt'), readFileSync(caCert))
  return { caKey, caCert, files }
}

function writeManifest(work, count, name = 'devices.csv') {
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
  for (const [name, mode] of [['client.pem', '0644'], ['pkey.pem', '0600'], ['root.crt', '0644']]) {
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
      'base="$1"; out="$2"; offset="$3"; script="$4"; list="$5"; copyOnly="${6:-}"',
      'mkdir -p "$out"',
      'while read -r serial; do',
      '  cp --sparse=always "$base" "$out/$serial.img"',
      '  [ -n "$copyOnly" ] || debugfs -w -f "$script" "$out/$serial.img?offset=$offset" >/dev/null 2>&1',
      'done < "$list"',
      ''
    ].join('\n')
  )
  return (base, out, copyOnly = false) => ['bash', [loop, base, out, String(rootfs.start), script, list, ...(copyOnly ? ['copy-only'] : [])]]
}

/** The first output of a baseline run holds what it should (debugfs exits 0 even on failure). */
function checkBaselineOutput(out, rootfs, pki, serial) {
  const image = `${path.join(out, `${serial}.img`)}?offset=${rootfs.start}`
  const client = execFileSync('debugfs', ['-R', `cat ${CRED_DIR}/client.pem`, image], { stdio: ['ignore', 'pipe', 'ignore'] })
  if (!client.equals(readFileSync(path.join(pki.files, 'client.pem')))) throw new Error(`baseline output ${image} does not hold client.pem`)
  const stat = execFileSync('debugfs', ['-R', `stat ${CRED_DIR}/pkey.pem`, image], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, DEBUGFS_PAGER: '__none__' } }).toString()
  if (!/Mode:\s+0600/.test(stat) || !/User:\s+0\s+Group:\s+0/.test(stat)) throw new Error(`baseline output ${image}: pkey.pem mode/owner wrong:\n${stat}`)
}

/** `node dist/cli.js bake` arguments; `image` null for formats without an image (dir). */
function credbakeArgs(manifest, pki, image, out, format = 'image') {
  return [CLI, 'bake', '--manifest', manifest, '--fleet-ca-cert', pki.caCert, '--fleet-ca-key', pki.caKey, '--server-ca', pki.caCert,
    ...(image ? ['--image', image, '--partition', 'label=rootfs'] : []), '--format', format, '--output-dir', out]
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

function main() {
  requireTools()
  const work = process.env.BENCH_DIR ? path.resolve(process.env.BENCH_DIR) : mkdtempSync(path.join(os.tmpdir(), 'credbake-bench-image-'))
  mkdirSync(work, { recursive: true })
  const node = process.execPath
  log(`credbake image benchmark: ${DEVICES} devices, ${ROUNDS} rounds, work folder ${work}`)
  log(`machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ` +
    `${spawnSync('debugfs', ['-V'], { encoding: 'utf8' }).stderr.split('\n')[0]}`)
  log(`file system of the work folder: ${spawnSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', work], { encoding: 'utf8' }).stdout.trim() || '?'}`)
  log(`load average at start: ${loadavg()}`)
  try {
    const setupStart = performance.now()
    const { image, rootfs } = buildImage(work)
    const pki = makePki(work)
    const { file: manifest, serials } = writeManifest(work, DEVICES)
    const baseline = writeBaseline(work, pki, rootfs, serials)
    const allocated = statSync(image).blocks * 512
    log(`base image: ${IMAGE_SIZE / MiB} MiB GPT, rootfs ext4 at byte ${rootfs.start} (${(rootfs.size / MiB).toFixed(0)} MiB), ` +
      `${(allocated / MiB).toFixed(1)} MiB allocated; set up in ${fmt(performance.now() - setupStart)}`)

    // Warm-up (not timed): page cache for the base, Node's code cache, debugfs in memory.
    const warm = writeManifest(work, 2, 'warm.csv')
    timed(node, credbakeArgs(warm.file, pki, image, path.join(work, 'warm-credbake')))
    const [wcmd, wargs] = baseline(image, path.join(work, 'warm-shell'))
    timed(wcmd, wargs)
    clear(path.join(work, 'warm-credbake'))
    clear(path.join(work, 'warm-shell'))

    const credbakeMs = []
    const shellMs = []
    const syncMs = []
    for (let round = 1; round <= ROUNDS; round++) {
      const sides = round % 2 ? ['credbake', 'shell'] : ['shell', 'credbake']
      for (const side of sides) {
        const out = path.join(work, `out-${side}-${round}`)
        if (side === 'credbake') {
          const { ms } = timed(node, credbakeArgs(manifest, pki, image, out))
          const doc = JSON.parse(readFileSync(path.join(out, 'credbake-manifest.json'), 'utf8'))
          if (doc.devices.length !== DEVICES || countFiles(path.join(out, 'images')) !== DEVICES) throw new Error(`credbake round ${round}: not ${DEVICES} images`)
          credbakeMs.push(ms)
        } else {
          const [cmd, args] = baseline(image, out)
          const { ms } = timed(cmd, args)
          if (countFiles(out) !== DEVICES) throw new Error(`shell round ${round}: not ${DEVICES} images`)
          checkBaselineOutput(out, rootfs, pki, serials[0])
          // credbake flushes its outputs before writing its manifest; the loop does not. Time a
          // sync after the loop separately, so both figures can be compared.
          const s = timed('sync', ['-f', out])
          syncMs.push(s.ms)
          shellMs.push(ms)
        }
        clear(out)
      }
      log(`round ${round} (${sides.join(' first, then ')}): credbake ${fmt(credbakeMs.at(-1) / DEVICES)}/device, shell loop ${fmt(shellMs.at(-1) / DEVICES)}/device ` +
        `(+ sync ${fmt(syncMs.at(-1) / DEVICES)}), ratio ${(credbakeMs.at(-1) / shellMs.at(-1)).toFixed(2)}; load ${loadavg()}`)
    }

    const perDevice = (list) => list.map((ms) => ms / DEVICES)
    const c = median(perDevice(credbakeMs))
    const s = median(perDevice(shellMs))
    const ss = median(perDevice(shellMs.map((ms, i) => ms + syncMs[i])))
    const pairedRatios = credbakeMs.map((ms, i) => ms / shellMs[i])
    log('')
    log(`RESULT (${DEVICES} devices, median of ${ROUNDS} rounds, per device, end to end):`)
    log(`  credbake bake --format image     ${fmt(c)}   (issue + verify + write + read back + SHA-256 + manifest + sync)`)
    log(`  shell loop cp + debugfs -w -f    ${fmt(s)}   (no certificates, no checks, no hashing)`)
    log(`  shell loop + sync of its outputs ${fmt(ss)}`)
    log(`  ratio credbake / shell loop      ${(c / s).toFixed(2)}   (median of per-round ratios ${median(pairedRatios).toFixed(2)}; target <= 1.00)`)
    log(`  ratio credbake / (shell + sync)  ${(c / ss).toFixed(2)}`)

    if (BREAKDOWN) {
      log('')
      log('BREAKDOWN (one run each; per device unless noted):')
      const one = writeManifest(work, 1, 'one.csv')
      const startup = timed(node, [CLI, '--help']).ms
      log(`  node dist/cli.js --help (process start)          ${fmt(startup)} once`)
      const oneRun = timed(node, credbakeArgs(one.file, pki, image, path.join(work, 'b-one'))).ms
      clear(path.join(work, 'b-one'))
      log(`  credbake, 1 device (fixed costs + 1 device)      ${fmt(oneRun)} once`)
      const all = timed(node, credbakeArgs(manifest, pki, image, path.join(work, 'b-all'))).ms
      clear(path.join(work, 'b-all'))
      log(`  credbake, ${DEVICES} devices: marginal cost per device   ${fmt((all - oneRun) / (DEVICES - 1))}  ((t${DEVICES} - t1) / ${DEVICES - 1})`)
      const dir = timed(node, credbakeArgs(manifest, pki, null, path.join(work, 'b-dir'), 'dir')).ms
      clear(path.join(work, 'b-dir'))
      log(`  credbake --format dir (issuance, no image)       ${fmt(dir / DEVICES)}`)
      const part = timed(node, credbakeArgs(manifest, pki, image, path.join(work, 'b-part'), 'partition')).ms
      clear(path.join(work, 'b-part'))
      log(`  credbake --format partition (${(rootfs.size / MiB).toFixed(0)} MiB each)      ${fmt(part / DEVICES)}`)
      const [ccmd, cargs] = baseline(image, path.join(work, 'b-cp'), true)
      const cpOnly = timed(ccmd, cargs).ms
      const sample = path.join(work, 'b-cp', `${serials[0]}.img`)
      const hashStart = performance.now()
      sha256OfFile(sample)
      const hash = performance.now() - hashStart
      clear(path.join(work, 'b-cp'))
      log(`  shell: cp --sparse=always alone                  ${fmt(cpOnly / DEVICES)}`)
      log(`  shell: debugfs alone (loop - cp)                 ${fmt(s - cpOnly / DEVICES)}`)
      log(`  SHA-256 of one ${IMAGE_SIZE / MiB} MiB output (node:crypto)     ${fmt(hash)}`)
    }
    log('')
    log(`load average at end: ${loadavg()} (${os.cpus().length} CPUs; other processes share this machine, so compare within a run)`)
  } finally {
    if (process.env.BENCH_KEEP === '1') log(`kept ${work}`)
    else rmSync(work, { recursive: true, force: true })
  }
}

main()
