// A real mutual-TLS handshake: a TLS server on 127.0.0.1 that trusts only the fleet root accepts a
// device presenting its baked client.pem / pkey.pem, and refuses a device of another CA. Judged on
// the server's side (a TLS 1.3 client can believe it connected before the server's verdict).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, makeIntermediateCa, makeRootCa, generateKey, openssl, type CaFixture } from '../helpers/pki.js'
import { runAction } from '../helpers/run.js'

let root: CaFixture
let intermediate: CaFixture
let stranger: CaFixture
let serverCert: { cert: string; key: string }
let work: string

beforeAll(() => {
  root = makeRootCa({ keyType: 'ec-p256', subject: '/CN=mTLS Fleet Root' })
  intermediate = makeIntermediateCa(root, { keyType: 'ec-p256', subject: '/CN=mTLS Fleet Issuing' })
  stranger = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Not The Fleet' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-mtls-'))
  // The server's own certificate, for 127.0.0.1, from a separate server CA.
  const serverCa = makeRootCa({ keyType: 'ec-p256', subject: '/CN=server ca' })
  const key = generateKey('ec-p256', { dir: work, name: 'server' })
  const csr = path.join(work, 'server.csr')
  openssl(['req', '-new', '-key', key.path, '-subj', '/CN=127.0.0.1', '-out', csr])
  const ext = path.join(work, 'server.ext')
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  const crt = path.join(work, 'server.crt')
  openssl(['x509', '-req', '-in', csr, '-CA', serverCa.certPath, '-CAkey', serverCa.keyPath, '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', crt])
  serverCert = { cert: readFileSync(crt, 'utf8'), key: key.pem }
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

function bake(ca: CaFixture, name: string): { client: string; key: string } {
  const manifest = path.join(work, `${name}.json`)
  writeFileSync(manifest, JSON.stringify([{ serial: `${name}-1` }]))
  const out = path.join(work, `out-${name}`)
  const run = runAction({ manifest, 'fleet-ca-cert': ca.chainPem, 'fleet-ca-key': ca.keyPem, format: 'dir', 'output-dir': out })
  expect(run.status, run.stdout + run.stderr).toBe(0)
  const dir = path.join(out, 'devices', `${name}-1`, 'var/sota/import')
  return { client: readFileSync(path.join(dir, 'client.pem'), 'utf8'), key: readFileSync(path.join(dir, 'pkey.pem'), 'utf8') }
}

interface ServerVerdict {
  accepted: boolean
  peerCn?: string
  error?: string
}

/** Start a server trusting only `trusted`, connect once with the device credentials, report what the server saw. */
async function handshake(trusted: string, device: { client: string; key: string }): Promise<ServerVerdict> {
  let resolveVerdict!: (verdict: ServerVerdict) => void
  const verdict = new Promise<ServerVerdict>((resolve) => (resolveVerdict = resolve))
  const server = tls.createServer(
    // The server verifies the client chain itself (OpenSSL, against `trusted` only) and we read its
    // verdict from socket.authorized / authorizationError rather than from a dropped connection.
    { cert: serverCert.cert, key: serverCert.key, ca: [trusted], requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    (socket) => {
      const peer = socket.getPeerCertificate()
      const peerCn = typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined
      if (socket.authorized) resolveVerdict({ accepted: true, peerCn })
      else resolveVerdict({ accepted: false, peerCn, error: String(socket.authorizationError) })
      socket.end('hello device\n')
    }
  )
  server.on('tlsClientError', (error) => resolveVerdict({ accepted: false, error: error.message }))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const client = tls.connect({ host: '127.0.0.1', port, cert: device.client, key: device.key, rejectUnauthorized: false })
  client.on('error', () => {})
  client.on('data', () => {})
  const timeout = setTimeout(() => resolveVerdict({ accepted: false, error: 'no verdict in 10 s' }), 10_000)
  try {
    return await verdict
  } finally {
    clearTimeout(timeout)
    client.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

describe('mutual TLS with baked credentials', () => {
  it('a server trusting only the fleet root accepts a device of a root fleet CA', async () => {
    const verdict = await handshake(root.certPem, bake(root, 'rootdev'))
    expect(verdict).toEqual({ accepted: true, peerCn: 'rootdev-1' })
  })

  it('accepts a device of an intermediate fleet CA, thanks to the chain in client.pem', async () => {
    const verdict = await handshake(root.certPem, bake(intermediate, 'interdev'))
    expect(verdict).toEqual({ accepted: true, peerCn: 'interdev-1' })
  })

  it('refuses a device whose certificate comes from another CA', async () => {
    const verdict = await handshake(root.certPem, bake(stranger, 'strangerdev'))
    expect(verdict.accepted).toBe(false)
    expect(verdict.peerCn).toBe('strangerdev-1')
    expect(verdict.error).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/i)
  })
})
