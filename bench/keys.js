// node bench/keys.js: µs per device key pair (SPKI DER + PKCS#8 PEM), the old path (node:crypto
// generateKeyPairSync with both encodings) against src/issue/keys.ts, in the same run, one thread.
// Asserts nothing. BENCH_KEYS (default 20000) keys per side and round, BENCH_ROUNDS (default 3).
// keys.ts is transpiled with the typescript package (no loader needed); src/ is read, not dist/.
import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import ts from 'typescript'

const root = path.resolve(import.meta.dirname, '..')
const count = Number(process.env.BENCH_KEYS ?? 20000)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const work = mkdtempSync(path.join(os.tmpdir(), 'credbake-bench-keys-'))

try {
  // Transpile keys.ts and what it imports (relative .js specifiers) into the work folder.
  const pending = ['src/issue/keys.ts']
  const seen = new Set()
  while (pending.length) {
    const relative = pending.pop()
    if (seen.has(relative)) continue
    seen.add(relative)
    const source = readFileSync(path.join(root, relative), 'utf8')
    for (const [, specifier] of source.matchAll(/from '(\.[^']+)\.js'/g)) {
      pending.push(path.join(path.dirname(relative), `${specifier}.ts`))
    }
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }
    })
    const target = path.join(work, relative.replace(/\.ts$/, '.js'))
    mkdirSync(path.dirname(target), { recursive: true })
    writeFileSync(target, outputText)
  }
  writeFileSync(path.join(work, 'package.json'), '{"type":"module"}')
  const file = path.join(work, 'src/issue/keys.js')
  const { generateDeviceKeyPair } = await import(pathToFileURL(file).href)

  const old = {
    'ec-p256': () => generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } }),
    'ec-p384': () => generateKeyPairSync('ec', { namedCurve: 'P-384', publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } }),
    ed25519: () => generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
  }
  const time = (fn, n) => {
    const start = process.hrtime.bigint()
    for (let i = 0; i < n; i++) fn()
    return Number(process.hrtime.bigint() - start) / 1e3 / n
  }
  console.log(
    `node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`
  )
  console.log(`${count} keys per side and round, ${rounds} rounds, best round shown (µs per key pair)`)
  for (const [keyType, oldFn] of Object.entries(old)) {
    const n = keyType === 'ec-p256' ? count : Math.max(1, Math.floor(count / 4))
    const newFn = () => generateDeviceKeyPair(keyType)
    time(oldFn, 200)
    time(newFn, 200)
    let bestOld = Infinity
    let bestNew = Infinity
    for (let round = 0; round < rounds; round++) {
      // Alternate which side goes first.
      if (round % 2 === 0) {
        bestOld = Math.min(bestOld, time(oldFn, n))
        bestNew = Math.min(bestNew, time(newFn, n))
      } else {
        bestNew = Math.min(bestNew, time(newFn, n))
        bestOld = Math.min(bestOld, time(oldFn, n))
      }
    }
    console.log(`${keyType.padEnd(8)} old ${bestOld.toFixed(1).padStart(7)} µs   new ${bestNew.toFixed(1).padStart(7)} µs   ${(bestOld / bestNew).toFixed(2)}x   (${n} keys)`)
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
