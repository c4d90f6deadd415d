// The device worker: dist/device-worker.js (or, from src/ and where that bundle is missing, the
// running file itself) started as a worker thread, recognised by its workerData. Its first message makes its one DeviceWork (the fleet CA,
// and the CA key when it is in memory; KeyObjects cross threads by structured clone, never as
// text); it answers the calls after it in the order they come.
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
  const data = workerData as { role?: string } | undefined
  if (isMainThread || data?.role !== DEVICE_WORKER_ROLE || !parentPort) return false
  const port = parentPort
  // The first message is the DeviceWorkInit (the worker may be started before the run knows it).
  let work: DeviceWork | undefined
  let initError: unknown
  port.on('message', (message: { init: DeviceWorkInit } | { call: number; request: DeviceWorkerRequest }) => {
    if ('init' in message) {
      try {
        work = new DeviceWork(message.init)
      } catch (error) {
        initError = error // the reply to every call
      }
      return
    }
    const { call, request } = message
    let reply: DeviceWorkerReply
    try {
      if (initError !== undefined) throw initError
      if (!work) throw new Error('internal: a device worker was called before its init')
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
