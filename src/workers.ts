// The bundles (dist/index.js, dist/cli.js) also run as worker threads: issuance and hashing.
import { runIfIssuerWorker } from './issue/worker.js'
import { runIfHasherWorker } from './util/hash-pool.js'

/** True when this thread is one of credbake's workers (and now serves as one). */
export function runIfWorker(): boolean {
  return runIfIssuerWorker() || runIfHasherWorker()
}
