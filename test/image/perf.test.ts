// Image-layer timing against the hand-written baseline (`cp --sparse=always` + one
// `debugfs -w -f script`). Skipped unless CREDBAKE_BENCH=1, since timings are not assertions:
//   CREDBAKE_BENCH=1 [BENCH_DEVICES=64] npx vitest run test/image/perf.test.ts
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import type { BundleFile } from '../../src/bundle/types.js'
import { sha256File } from '../../src/image/compress.js'
import { ImageCopier } from '../../src/image/copy.js'
import type { DirState } from '../../src/image/paths.js'
import { readDiskLayout, selectPartition } from '../../src/image/table.js'
import { writeBundle } from '../../src/image/write.js'
import { buildGptImage, cleanupScratch, MiB, scratchDir } from '../helpers/images.js'

const exec = promisify(execFile)
const devices = Number(process.env.BENCH_DEVICES ?? 16)

afterAll(cleanupScratch)

describe.runIf(process.env.CREDBAKE_BENCH === '1')('image layer timing', () => {
  it(`${devices} devices, 256 MiB GPT image with 64 MiB of data`, { timeout: 1_800_000 }, async () => {
    const dir = await scratchDir('credbake-bench-')
    const built = await buildGptImage(dir, { rootSize: 200 * MiB, rootFiles: { 'usr/lib/data.bin': randomBytes(64 * MiB), 'etc/hostname': 'x\n' } })
    const layout = await readDiskLayout(built.path)
    const part = selectPartition(layout, { kind: 'label', value: 'rootfs' })
    const tmp = path.join(dir, 'tmp')
    await mkdir(tmp, { mode: 0o700 })
    const files = (i: number): BundleFile[] => [
      { path: '/var/sota/import/pkey.pem', content: randomBytes(241), mode: 0o600, uid: 0, gid: 0, secret: true },
      { path: '/var/sota/import/client.pem', content: Buffer.from(`cert ${i}`.padEnd(1300, '.')), mode: 0o644, uid: 0, gid: 0, secret: false },
      { path: '/var/sota/import/root.crt', content: Buffer.alloc(1500, 65), mode: 0o644, uid: 0, gid: 0, secret: false }
    ]

    const baselineOne = async (out: string, i: number): Promise<void> => {
      const img = path.join(out, `b${i}.img`)
      const host = path.join(tmp, `b${i}`)
      await mkdir(host)
      const fs = files(i)
      const script = ['mkdir /var/sota', 'mkdir /var/sota/import']
      for (const [k, f] of fs.entries()) {
        await writeFile(path.join(host, String(k)), f.content, { mode: 0o600 })
        script.push(`write ${path.join(host, String(k))} ${f.path}`, `sif ${f.path} mode 0100${f.mode.toString(8)}`, `sif ${f.path} uid 0`, `sif ${f.path} gid 0`)
      }
      await writeFile(path.join(host, 'script'), script.join('\n'))
      await exec('cp', ['--sparse=always', built.path, img])
      await exec('debugfs', ['-w', '-f', path.join(host, 'script'), `${img}?offset=${part.start}`])
      await rm(host, { recursive: true })
    }

    // Interleaved per device, so load from other processes hits both sides alike.
    const out = path.join(dir, 'out')
    await mkdir(out)
    const setupStart = performance.now()
    const copier = await ImageCopier.open(built.path)
    const probeCache = new Map<string, DirState>()
    const setup = performance.now() - setupStart
    let base = 0
    let copy = 0
    let write = 0
    let method = ''
    for (let i = 0; i < devices; i++) {
      const t0 = performance.now()
      await baselineOne(out, i)
      const t1 = performance.now()
      const img = path.join(out, `o${i}.img`)
      method = await copier.copyTo(img)
      const t2 = performance.now()
      await writeBundle({ image: img, partition: part, files: files(i), tempDir: tmp, serial: `SN${i}`, probeCache })
      const t3 = performance.now()
      base += t1 - t0
      copy += t2 - t1
      write += t3 - t2
      await rm(path.join(out, `b${i}.img`))
      await rm(img)
    }
    const hashStart = performance.now()
    await copier.copyTo(path.join(out, 'h.img'))
    await sha256File(path.join(out, 'h.img'))
    const hash = performance.now() - hashStart
    const ours = (copy + write + setup) / devices
    console.log(
      `${devices} devices: baseline cp --sparse=always + debugfs -w -f: ${(base / devices).toFixed(1)} ms/device; ` +
        `credbake copy (${method}) ${(copy / devices).toFixed(1)} + debugfs write & read-back ${(write / devices).toFixed(1)} ` +
        `+ one-time scan ${(setup / devices).toFixed(1)} = ${ours.toFixed(1)} ms/device; ratio ${(ours / (base / devices)).toFixed(2)}; ` +
        `sha256 of one 256 MiB output ${hash.toFixed(0)} ms`
    )
    const rounds = [ours]
    expect(rounds).toHaveLength(1)
  })
})
