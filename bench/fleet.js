// What several benchmarks set up the same way: a throwaway EC P-256 fleet root made with openssl,
// a CSV device manifest of BENCH-0 … BENCH-(count-1), and how fast the machine hands out new pages.
import { execFileSync } from 'node:child_process'
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import path from 'node:path'

/** ca.key and ca.pem in `work`: a self-signed P-256 CA (basicConstraints CA:TRUE, keyCertSign). */
export function makeBenchCa(work, subject = '/CN=bench fleet root') {
  const caKey = path.join(work, 'ca.key')
  const caCert = path.join(work, 'ca.pem')
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', caKey])
  execFileSync('openssl', ['req', '-x509', '-new', '-key', caKey, '-subj', subject, '-days', '3650',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-out', caCert])
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
