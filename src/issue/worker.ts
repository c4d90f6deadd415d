// The issuance worker: the same bundle file (dist/index.js or dist/cli.js) started as a worker
// thread, recognised by its workerData. It receives the fleet CA once (KeyObjects cross threads
// by structured clone; the key is never serialised to text) and issues batches of devices.
import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import type { FleetCa } from '../ca/types.js'
import { isCredbakeError, messageOf } from '../errors.js'
import type { Device } from '../manifest/types.js'
import { issueCredential } from './issue.js'
import type { CertificateProfile, IssuedCredential } from './types.js'

export const ISSUER_ROLE = 'credbake-issuer'

export interface IssuerInit {
  role: typeof ISSUER_ROLE
  ca: FleetCa
  profile: CertificateProfile
  now: Date
}

export type IssuerRequest = { id: number; devices: Device[] }

export type SerializedError = {
  kind: string
  message: string
  input?: string
  file?: string
  line?: number
  serial?: string
}

export type IssuerReply = { id: number; credentials: IssuedCredential[] } | { id: number; error: SerializedError }

export function serializeError(error: unknown): SerializedError {
  if (isCredbakeError(error)) {
    return { kind: error.kind, message: error.message, input: error.input, file: error.file, line: error.line, serial: error.serial }
  }
  return { kind: 'internal', message: messageOf(error) }
}

/** When this thread is an issuance worker, serve requests and return true; else false. */
export function runIfIssuerWorker(): boolean {
  if (isMainThread || (workerData as Partial<IssuerInit> | undefined)?.role !== ISSUER_ROLE || !parentPort) return false
  const { ca, profile, now } = workerData as IssuerInit
  const port = parentPort
  port.on('message', (request: IssuerRequest) => {
    let reply: IssuerReply
    try {
      reply = { id: request.id, credentials: request.devices.map((device) => issueCredential(ca, profile, device, now)) }
    } catch (error) {
      reply = { id: request.id, error: serializeError(error) }
    }
    port.postMessage(reply)
  })
  return true
}
