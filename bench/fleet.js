// What several benchmarks set up the same way: a throwaway EC P-256 fleet root made with openssl,
// and a CSV device manifest of BENCH-0 … BENCH-(count-1).
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
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
