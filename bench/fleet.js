// What several benchmarks set up the same way: a throwaway EC P-256 fleet root made with openssl,
// a CSV device manifest of BENCH-0 … BENCH-(count-1), how fast the machine hands out new pages,
// the load average, the clock tick, and one device of the naive node:crypto loop (the baseline).
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, sign } from 'node:crypto'
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** ca.key and ca.pem in `work`: a self-signed P-256 CA (basicConstraints CA:TRUE, keyCertSign). */
export function makeBenchCa(work, subject = '/CN=bench fleet root') {
  const caKey = path.join(work, 'ca.key')
  const caCert = path.join(work, 'ca.pem')
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', caKey])
  execFileSync('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    caKey,
    '-subj',
    subject,
    '-days',
    '3650',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
    '-out',
    caCert
  ])
  return { caKey, caCert }
}

/** Writes `file`: a header row `serial` and `count` serials. */
export function writeBenchManifest(file, count) {
  writeFileSync(file, `serial\n${Array.from({ length: count }, (_, i) => `BENCH-${i}`).join('\n')}\n`)
  return file
}

// How fast this machine hands out new pages: 256 MiB written into a new file (page cache on
// disk, memory on tmpfs), 1 MiB at a time, no fsync. On a virtual machine whose memory the host
// maps on first touch this is far below memory bandwidth and dominates image outputs on tmpfs, so
// figures from different machines (or days) compare only beside it. MB/s, or undefined.
export function freshPages(dir) {
  const file = path.join(dir, 'fresh-pages.tmp')
  const block = Buffer.alloc(1 << 20, 1)
  try {
    const fd = openSync(file, 'w')
    const started = process.hrtime.bigint()
    try {
      for (let i = 0; i < 256; i++) writeSync(fd, block)
    } finally {
      closeSync(fd)
    }
    return (256 * 1.048576) / (Number(process.hrtime.bigint() - started) / 1e9)
  } catch {
    return undefined
  } finally {
    rmSync(file, { force: true })
  }
}

/** The load average, as the benchmarks print it: "0.31 0.17 0.06". */
export const loadAverage = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')

/** Clock ticks per second, the unit of /proc's CPU times. */
export const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/**
 * One device of the naive node:crypto loop, issue 9's baseline: a P-256 key pair, its PKCS#8 PEM and
 * SPKI DER exports, and one ECDSA signature of `tbs` with the CA key.
 */
export function naiveDevice(caKey, tbs) {
  const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  pair.privateKey.export({ type: 'pkcs8', format: 'pem' })
  pair.publicKey.export({ type: 'spki', format: 'der' })
  sign('sha256', tbs, caKey)
}
