// The device worker: dist/device-worker.js (or, from src/ and where that bundle is missing, the
// running file itself) started as a worker thread of the device pool. Its init makes its one
// DeviceWork (the fleet CA, and the CA key when it is in memory; KeyObjects cross threads by
// structured clone, never as text); it answers the calls after it in the order they come.
import { serveWorker } from '../util/worker-pool.js'
import { deviceHandler } from './device-work.js'

export const DEVICE_WORKER_ROLE = 'credbake-device-worker'

/** When this thread is a device worker, serve calls and return true; else false. */
export function runIfDeviceWorker(): boolean {
  return serveWorker(DEVICE_WORKER_ROLE, deviceHandler)
}
