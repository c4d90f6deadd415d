// The device worker: the same bundle file (dist/index.js or dist/cli.js) started as a worker
// thread, recognised by its workerData. It holds one DeviceWork (the fleet CA, and the CA key when
// it is in memory; KeyObjects cross threads by structured clone, never as text) and answers calls
// in the order they come.
import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import { serializeError, type SerializedError } from '../errors.js'
import { DeviceWork, type DeviceOrder, type DeviceWorkInit } from './device-work.js'

export const DEVICE_WORKER_ROLE = 'credbake-device-worker'

export type DeviceWorkerRequest =
  | { method: 'issue'; id: number; orders: DeviceOrder[] }
  | { method: 'seal'; id: number; signatures: Uint8Array[] }
  | { method: 'write'; id: number }
  | { method: 'drop'; id: number }

export type DeviceWorkerReply = { call: number; result: unknown } | { call: number; error: SerializedError }

/** When this thread is a device worker, serve calls and return true; else false. */
export function runIfDeviceWorker(): boolean {
  const data = workerData as { role?: string; init?: DeviceWorkInit } | undefined
  if (isMainThread || data?.role !== DEVICE_WORKER_ROLE || !data.init || !parentPort) return false
  const port = parentPort
  const work = new DeviceWork(data.init)
  port.on('message', ({ call, request }: { call: number; request: DeviceWorkerRequest }) => {
    let reply: DeviceWorkerReply
    try {
      const result =
        request.method === 'issue'
          ? work.issue(request.id, request.orders)
          : request.method === 'seal'
            ? work.seal(request.id, request.signatures)
            : request.method === 'write'
              ? work.write(request.id)
              : work.drop(request.id)
      reply = { call, result }
    } catch (error) {
      reply = { call, error: serializeError(error) }
    }
    if (call >= 0) port.postMessage(reply)
  })
  return true
}
