// The bundles (dist/index.js, dist/cli.js) also run as worker threads of the one worker pool
// (src/util/worker-pool.ts: devices, hashing and verify) and as
// the PKCS#11 signer process (a child started with CREDBAKE_ROLE=pkcs11-signer).
import { isMainThread } from 'node:worker_threads'
import { runIfDeviceWorker } from './pipeline/device-worker.js'
import { runIfPkcs11SignerProcess } from './signer/pkcs11.js'
import { runIfHasherWorker } from './image/hash-pool.js'
import { runIfVerifierWorker } from './verify/pool.js'

/** True when this thread is one of credbake's workers (and now serves as one). */
export function runIfWorker(): boolean {
  return runIfDeviceWorker() || runIfHasherWorker() || runIfVerifierWorker() || (isMainThread && runIfPkcs11SignerProcess())
}
