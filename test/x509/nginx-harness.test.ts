// The nginx harness itself (test/helpers/nginx.ts): it retries on another port when the one it
// picked is taken meanwhile, and stop() leaves no process and no folder behind.
import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { startNginx } from '../helpers/nginx.js'
import { cleanupPki, makeRootCa } from '../helpers/pki.js'

afterAll(cleanupPki)

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('nginx harness', () => {
  it('a port taken between probe and start: nginx fails to bind, the harness retries on another', async () => {
    const ca = makeRootCa({ keyType: 'ec-p256' })
    const squatter: Server = createServer()
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', () => resolve()))
    const taken = (squatter.address() as { port: number }).port
    const offered: number[] = []
    const ports = [taken]
    const choosePort = async (): Promise<number> => {
      const port =
        ports.shift() ??
        (await new Promise<number>((resolve) => {
          const probe = createServer().listen(0, '127.0.0.1', () => {
            const { port: free } = probe.address() as { port: number }
            probe.close(() => resolve(free))
          })
        }))
      offered.push(port)
      return port
    }
    const gateway = await startNginx({ clientCaPem: ca.certPem, choosePort })
    try {
      expect(offered[0]).toBe(taken)
      expect(gateway.attempts).toBe(2)
      expect(gateway.port).not.toBe(taken)
      expect((await gateway.request()).status).toBe(400)
    } finally {
      await gateway.stop()
      await new Promise<void>((resolve) => squatter.close(() => resolve()))
    }
    expect(alive(gateway.pid)).toBe(false)
    expect(existsSync(gateway.prefix)).toBe(false)
    // A second stop is harmless.
    await gateway.stop()
  })
})
