// The issuance worker: the same bundle file (dist/index.js or dist/cli.js) started as a worker
// thread, recognised by its workerData. It receives the fleet CA once and builds batches of
// devices. With an in-memory CA key (KeyObjects cross threads by structured clone; the key is never
// serialised to text) it signs too and returns finished credentials; without one (a token, KMS or
// signer program) it returns the TBSCertificates for the main thread's signer.
import type { KeyObject } from 'node:crypto'
import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import type { FleetCa } from '../ca/types.js'
import { serializeError, type SerializedError } from '../errors.js'
import type { Device } from '../manifest/types.js'
import { buildTbs, issueCredential, type UnsignedCredential } from './issue.js'
import type { CertificateProfile } from '../shapes/profile.js'
import type { IssuedCredential } from './types.js'

export const ISSUER_ROLE = 'credbake-issuer'

export interface IssuerInit {
  role: typeof ISSUER_ROLE
  ca: FleetCa
  profile: CertificateProfile
  now: Date
  /** The in-memory CA key, when the signer has one; else the worker only builds TBSCertificates. */
  key?: KeyObject
}

export type IssuerRequest = { id: number; devices: Device[] }

export type IssuerReply = { id: number; credentials: IssuedCredential[] } | { id: number; unsigned: UnsignedCredential[] } | { id: number; error: SerializedError }

/** When this thread is an issuance worker, serve requests and return true; else false. */
export function runIfIssuerWorker(): boolean {
  if (isMainThread || (workerData as Partial<IssuerInit> | undefined)?.role !== ISSUER_ROLE || !parentPort) return false
  const { ca, profile, now, key } = workerData as IssuerInit
  const port = parentPort
  port.on('message', (request: IssuerRequest) => {
    let reply: IssuerReply
    try {
      reply = key
        ? { id: request.id, credentials: request.devices.map((device) => issueCredential(ca, profile, device, now, key)) }
        : { id: request.id, unsigned: request.devices.map((device) => buildTbs(ca, profile, device, now)) }
    } catch (error) {
      reply = { id: request.id, error: serializeError(error) }
    }
    port.postMessage(reply)
  })
  return true
}
