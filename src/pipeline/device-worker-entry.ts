// dist/device-worker.js: the device workers' own bundle. The device pool starts its worker threads
// from it when it lies beside the running bundle (dist/index.js, dist/cli.js), so each worker
// parses and evaluates only what a device worker runs, not the whole action or CLI.
import { runIfDeviceWorker } from './device-worker.js'

if (!runIfDeviceWorker()) {
  throw new Error("dist/device-worker.js runs only as a worker thread of credbake's device pool; run dist/cli.js or dist/index.js instead")
}
