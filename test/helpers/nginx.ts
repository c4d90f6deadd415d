/**
 * A real nginx (Debian nginx-light) as an mTLS gateway for tests: `ssl_verify_client on` with the
 * fleet's CA file (`ssl_client_certificate`) and a CRL file (`ssl_crl`), on 127.0.0.1, with its own
 * prefix, configuration, pid file, logs and temp paths in a folder under TMPDIR that `stop()`
 * removes. Clients are real curl processes with client certificates; the verdict is the HTTP
 * status nginx answers (200, or 400 for a certificate it refuses), since a TLS 1.3 client does
 * not learn of the refusal in the handshake (field notes).
 *
 *   const gateway = await startNginx({ clientCaPem: fleet.certPem, crlPem: crl.pem })
 *   const { status } = await gateway.request({ certPem, keyPem })   // 200 or 400
 *   await gateway.reload({ crlPem: newerCrl.pem })                   // nginx -s reload, waited for
 *   await gateway.stop()
 *
 * nginx cannot listen on port 0: a free port is found by binding a probe socket and releasing it,
 * and the start is retried on another port when nginx finds it taken meanwhile.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'

export const NGINX = '/usr/sbin/nginx'

export interface NginxFiles {
  /** ssl_client_certificate: the CA certificate(s) client certificates must chain to. */
  clientCaPem: string
  /** ssl_crl: one or more X509 CRL blocks; no ssl_crl directive when absent. */
  crlPem?: string
}

export interface NginxOptions extends NginxFiles {
  /** ssl_verify_depth (default 2: device, fleet CA, root). */
  verifyDepth?: number
  /** Where ports to try come from (default: a probe socket's); the harness test hands out a taken one. */
  choosePort?: () => Promise<number>
}

export interface ClientCredentials {
  /** The client certificate, followed by any chain the client should send. */
  certPem: string
  keyPem: string
}

export interface GatewayAnswer {
  /** The HTTP status nginx answered. */
  status: number
  body: string
}

export interface Nginx {
  readonly port: number
  /** The master process (ours: stop() ends it). */
  readonly pid: number
  /** How many ports the start tried. */
  readonly attempts: number
  readonly url: string
  readonly prefix: string
  /** Send one HTTPS request with curl, with these client credentials (or none). */
  request(client?: ClientCredentials): Promise<GatewayAnswer>
  /** Replace the CA and/or CRL files, `nginx -s reload`, and resolve once only new workers serve. */
  reload(files: Partial<NginxFiles>): Promise<void>
  /** nginx's error log so far (info level: it names why each client certificate was refused). */
  errorLog(): string
  /** Stop nginx and remove its folder. Safe to call twice. */
  stop(): Promise<void>
}

const START_ATTEMPTS = 5
const WAIT_MS = 60_000

export async function startNginx(options: NginxOptions): Promise<Nginx> {
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'credbake-nginx-'))
  try {
    const layout = prepareFolder(prefix, options)
    for (let attempt = 1; ; attempt++) {
      const port = await (options.choosePort ?? freePort)()
      writeFileSync(layout.conf, configuration(layout, port, options.verifyDepth ?? 2))
      const started = await launch(layout, port)
      if ('process' in started) return gateway(layout, port, started.process, attempt)
      if (!started.portTaken || attempt === START_ATTEMPTS) throw new Error(`nginx did not start: ${started.log}`)
    }
  } catch (error) {
    rmSync(prefix, { recursive: true, force: true })
    throw error
  }
}

interface Layout {
  prefix: string
  conf: string
  pidFile: string
  errorLog: string
  clientCa: string
  crl: string
  hasCrl: boolean
  serverCert: string
  serverKey: string
  clients: string
}

function prepareFolder(prefix: string, files: NginxFiles): Layout {
  for (const dir of ['conf', 'logs', 'tls', 'clients', 'temp/body', 'temp/proxy', 'temp/fastcgi', 'temp/uwsgi', 'temp/scgi']) mkdirSync(path.join(prefix, dir), { recursive: true })
  const layout: Layout = {
    prefix,
    conf: path.join(prefix, 'conf/nginx.conf'),
    pidFile: path.join(prefix, 'nginx.pid'),
    errorLog: path.join(prefix, 'logs/error.log'),
    clientCa: path.join(prefix, 'tls/client-ca.pem'),
    crl: path.join(prefix, 'tls/crl.pem'),
    hasCrl: files.crlPem !== undefined,
    serverCert: path.join(prefix, 'tls/server.pem'),
    serverKey: path.join(prefix, 'tls/server.key'),
    clients: path.join(prefix, 'clients')
  }
  writeFileSync(layout.clientCa, files.clientCaPem)
  if (files.crlPem !== undefined) writeFileSync(layout.crl, files.crlPem)
  // The gateway's own certificate, for 127.0.0.1; curl trusts exactly this one (--cacert).
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      layout.serverKey,
      '-out',
      layout.serverCert,
      '-subj',
      '/CN=127.0.0.1',
      '-days',
      '2',
      '-addext',
      'subjectAltName=IP:127.0.0.1'
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  )
  if (made.status !== 0) throw new Error(`openssl could not make the gateway certificate: ${made.stderr.toString()}`)
  return layout
}

function configuration(layout: Layout, port: number, verifyDepth: number): string {
  const at = (file: string): string => JSON.stringify(file)
  return [
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    `pid ${at(layout.pidFile)};`,
    `error_log ${at(layout.errorLog)} info;`,
    'events { worker_connections 64; }',
    'http {',
    `  access_log ${at(path.join(layout.prefix, 'logs/access.log'))};`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${at(path.join(layout.prefix, 'temp', kind === 'client_body' ? 'body' : kind))};`),
    '  server {',
    `    listen 127.0.0.1:${port} ssl;`,
    `    ssl_certificate ${at(layout.serverCert)};`,
    `    ssl_certificate_key ${at(layout.serverKey)};`,
    `    ssl_client_certificate ${at(layout.clientCa)};`,
    '    ssl_verify_client on;',
    `    ssl_verify_depth ${verifyDepth};`,
    ...(layout.hasCrl ? [`    ssl_crl ${at(layout.crl)};`] : []),
    '    location / {',
    '      default_type text/plain;',
    '      return 200 "verify $ssl_client_verify serial $ssl_client_serial\\n";',
    '    }',
    '  }',
    '}',
    ''
  ].join('\n')
}

/** The same -p/-c/-e for every nginx command, so signals reach this instance only. */
function nginxArgs(layout: Layout): string[] {
  return ['-p', `${layout.prefix}/`, '-c', layout.conf, '-e', layout.errorLog]
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      const port = typeof address === 'object' && address ? address.port : 0
      probe.close(() => resolve(port))
    })
  })
}

async function launch(layout: Layout, port: number): Promise<{ process: ChildProcess } | { portTaken: boolean; log: string }> {
  const check = spawnSync(NGINX, [...nginxArgs(layout), '-t', '-q'], { stdio: ['ignore', 'pipe', 'pipe'] })
  if (check.status !== 0) return { portTaken: false, log: `${check.stderr.toString()}${readLog(layout)}` }
  const child = spawn(NGINX, nginxArgs(layout), { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let gone = false
  void exited.then(() => {
    gone = true
  })
  await waitFor(async () => gone || (existsSync(layout.pidFile) && workersOf(child.pid as number).length > 0 && (await accepts(port))), 'nginx to listen')
  if (!gone) return { process: child }
  const log = `${stderr}${readLog(layout)}`
  return { portTaken: /Address already in use/.test(log), log }
}

function gateway(layout: Layout, port: number, child: ChildProcess, attempts: number): Nginx {
  let stopped = false
  let clientCount = 0
  const master = child.pid as number
  return {
    port,
    pid: master,
    attempts,
    url: `https://127.0.0.1:${port}/`,
    prefix: layout.prefix,

    async request(client?: ClientCredentials): Promise<GatewayAnswer> {
      const args = ['-sS', '--max-time', '30', '--cacert', layout.serverCert, '-o', '-', '-w', '\n%{http_code}']
      if (client) {
        clientCount += 1
        const cert = path.join(layout.clients, `${clientCount}.crt.pem`)
        const key = path.join(layout.clients, `${clientCount}.key.pem`)
        writeFileSync(cert, client.certPem)
        writeFileSync(key, client.keyPem, { mode: 0o600 })
        args.push('--cert', cert, '--key', key)
      }
      const output = await new Promise<string>((resolve, reject) => {
        execFile('curl', [...args, `https://127.0.0.1:${port}/`], (error, stdout, stderr) =>
          error ? reject(new Error(`curl failed: ${stderr || error.message}`)) : resolve(stdout)
        )
      })
      const cut = output.lastIndexOf('\n')
      return { status: Number(output.slice(cut + 1)), body: output.slice(0, cut) }
    },

    async reload(files: Partial<NginxFiles>): Promise<void> {
      if (files.clientCaPem !== undefined) writeFileSync(layout.clientCa, files.clientCaPem)
      if (files.crlPem !== undefined) {
        if (!layout.hasCrl) throw new Error('this nginx was started without ssl_crl')
        writeFileSync(layout.crl, files.crlPem)
      }
      const logBefore = readLog(layout).length
      const oldWorkers = workersOf(master)
      const signal = spawnSync(NGINX, [...nginxArgs(layout), '-s', 'reload'], { stdio: ['ignore', 'pipe', 'pipe'] })
      if (signal.status !== 0) throw new Error(`nginx -s reload failed: ${signal.stderr.toString()}`)
      // Done when every old worker has exited and a new one runs; a refused configuration shows in the log.
      await waitFor(async () => {
        const refused = /\[emerg\][^\n]*/.exec(readLog(layout).slice(logBefore))
        if (refused) throw new Error(`nginx refused the new configuration: ${refused[0]}`)
        const workers = workersOf(master)
        return workers.length > 0 && workers.every((pid) => !oldWorkers.includes(pid))
      }, 'the reloaded nginx workers')
    },

    errorLog: () => readLog(layout),

    async stop(): Promise<void> {
      if (stopped) return
      stopped = true
      try {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
          spawnSync(NGINX, [...nginxArgs(layout), '-s', 'stop'], { stdio: 'ignore' })
          const timer = setTimeout(() => child.kill('SIGKILL'), WAIT_MS)
          await exited
          clearTimeout(timer)
        }
      } finally {
        rmSync(layout.prefix, { recursive: true, force: true })
      }
    }
  }
}

function readLog(layout: Layout): string {
  return existsSync(layout.errorLog) ? readFileSync(layout.errorLog, 'utf8') : ''
}

/** Worker processes of the nginx master (children in /proc), by pid. */
function workersOf(master: number): number[] {
  const workers: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // Fields after the command (which may hold spaces) start after the last ')': state, ppid, ...
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === master && statSync(`/proc/${entry}`).isDirectory()) workers.push(Number(entry))
    } catch {
      // The process ended while being read.
    }
  }
  return workers
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
