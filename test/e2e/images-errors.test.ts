// Image errors a user can act on (issue 3, item 6), through the bundled action and the CLI: each
// has its message, a non-zero exit (the CLI's documented code), no review manifest, and no output
// that claims success. Images are built here with sfdisk, mkfs.ext4, mkfs.vfat and mkswap.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  buildBareExt4,
  buildGptImage,
  cleanupScratch,
  compressWithTool,
  makeFileSystem,
  MiB,
  nodeNumber,
  placeAt,
  run,
  scratchDir,
  setExtFeatureBit,
  sfdiskJson,
  type BuiltImage
} from '../helpers/images.js'
import { readValidManifest } from '../helpers/manifest-schema.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { NODE20, runAction, runCli, type ActionRun, type CliRun } from '../helpers/run.js'

let work: string
let ca: CaFixture
let manifest: string
let gpt: BuiltImage

beforeAll(async () => {
  work = await scratchDir('credbake-e2e-image-errors-')
  ca = makeRootCa({ keyType: 'ec-p256' })
  manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, 'serial\nSN-1\nSN-2\n')
  gpt = await buildGptImage(work, { rootSize: 16 * MiB })
})
afterAll(async () => {
  cleanupPki()
  await cleanupScratch()
})

let outs = 0
function outDir(name: string): string {
  return path.join(work, `out-${outs++}-${name}`)
}

/** Every file below `dir` (relative), or [] when it does not exist. */
function filesBelow(dir: string): string[] {
  if (!existsSync(dir)) return []
  const found: string[] = []
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const full = path.join(d, name)
      if (statSync(full).isDirectory()) walk(full)
      else found.push(path.relative(dir, full))
    }
  }
  walk(dir)
  return found.sort()
}

function errorsOf(result: ActionRun): string {
  return result.stdout
    .split('\n')
    .filter((line) => line.startsWith('::error'))
    .join('\n')
}

/** The action fails with `patterns` in its ::error:: lines, sets no outputs and writes no manifest. */
function expectActionFails(inputs: Record<string, string>, patterns: RegExp[], env?: Record<string, string>): ActionRun {
  const out = inputs['output-dir'] ?? outDir('action')
  const result = runAction({ manifest, 'fleet-ca-cert': ca.certPem, 'fleet-ca-key': ca.keyPem, 'output-dir': out, ...inputs }, env ? { env } : {})
  expect(result.status, result.stdout + result.stderr).not.toBe(0)
  const errors = errorsOf(result)
  expect(errors, result.stdout + result.stderr).not.toBe('')
  for (const pattern of patterns) expect(errors).toMatch(pattern)
  expect(existsSync(path.join(out, 'credbake-manifest.json'))).toBe(false)
  expect(result.outputs.manifest).toBeUndefined()
  expect(result.outputs.devices).toBeUndefined()
  expect(readdirSync(result.runnerTemp), 'temp folder removed').toEqual([])
  return result
}

/** The CLI exits with `code`, the message on stderr matching `patterns`, no manifest. */
function expectCliFails(args: string[], code: number, patterns: RegExp[], env?: Record<string, string>, node?: string): CliRun {
  const out = args.includes('--output-dir') ? args[args.indexOf('--output-dir') + 1]! : outDir('cli')
  const result = runCli(
    ['bake', '--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, ...(args.includes('--output-dir') ? [] : ['--output-dir', out]), ...args],
    {
      ...(env ? { env } : {}),
      ...(node ? { node } : {})
    }
  )
  expect(result.status, result.stdout + result.stderr).toBe(code)
  for (const pattern of patterns) expect(result.stderr).toMatch(pattern)
  expect(existsSync(path.join(out, 'credbake-manifest.json'))).toBe(false)
  return result
}

/** Output files are written under temporary names (`.SERIAL.img.tmp-PID-RANDOM`) and removed on failure. */
function expectNoTempNames(actionStdout: string, cliStderr: string): void {
  const annotations = actionStdout.split('\n').filter((line) => line.startsWith('::error file='))
  for (const line of annotations) expect(line, 'annotation on a removed temp file').not.toMatch(/^::error file=[^:]*\.tmp-/)
  expect(errorsOf({ stdout: actionStdout } as ActionRun), 'action error naming a removed temp file').not.toMatch(/\.tmp-\d+-/)
  expect(cliStderr, 'CLI error naming a removed temp file').not.toMatch(/\.tmp-\d+-/)
}

describe('the image cannot be used', () => {
  it('no partition table and no file system', () => {
    const junk = path.join(work, 'junk.img')
    writeFileSync(junk, Buffer.alloc(4 * MiB, 0x5a))
    const out = outDir('junk')
    expectActionFails({ image: junk, 'output-dir': out }, [/junk\.img/, /no partition table/i, /no ext2\/3\/4 or FAT file system/i])
    expect(filesBelow(out)).toEqual([])
    expectCliFails(['--image', junk], 4, [/junk\.img has no partition table/])
  })

  describe('unsupported file systems', () => {
    let odd: string
    beforeAll(() => {
      // GPT: 1 ext4 "rootfs", 2 Linux swap (mkswap), 3 random bytes.
      odd = path.join(work, 'odd.img')
      run('truncate', ['-s', String(40 * MiB), odd])
      run('sfdisk', ['-q', odd], { input: 'label: gpt\nsize=16MiB, type=L, name=rootfs\nsize=8MiB, type=S, name=swap\nsize=8MiB, type=L, name=junk\n' })
      const parts = sfdiskJson(odd).partitions
      const fsFile = path.join(work, 'odd.fs')
      makeFileSystem(fsFile, { fs: 'ext4', size: 16 * MiB, label: 'rootfs' })
      placeAt(odd, parts[0]!.start * 512, fsFile)
      rmSync(fsFile)
      run('truncate', ['-s', String(8 * MiB), fsFile])
      run('mkswap', ['-L', 'swappy', fsFile])
      placeAt(odd, parts[1]!.start * 512, fsFile)
      rmSync(fsFile)
      writeFileSync(fsFile, randomBytes(8 * MiB))
      placeAt(odd, parts[2]!.start * 512, fsFile)
      rmSync(fsFile)
      expect(parts.map((p) => nodeNumber(p.node))).toEqual([1, 2, 3])
    })

    it('a swap partition', () => {
      const out = outDir('swap')
      expectActionFails({ image: odd, partition: '2', 'output-dir': out }, [/partition.*2|2.*partition/i, /no file system credbake recognizes|swap/i, /ext2\/3\/4 and FAT/])
      expect(filesBelow(out)).toEqual([])
      // The message lists the partitions to choose from.
      expectCliFails(['--image', odd, '--partition', 'name=swap'], 4, [/credbake writes into ext2\/3\/4 and FAT12\/16\/32/, /rootfs/, /junk/])
    })

    it('a partition of random bytes', () => {
      expectActionFails({ image: odd, partition: 'name=junk' }, [/Partition 3/, /no file system credbake recognizes/])
      expectCliFails(['--image', odd, '--partition', '3'], 4, [/Partition 3/])
    })
  })

  describe('selectors', () => {
    let twoExt: string
    beforeAll(() => {
      // GPT with two ext4 partitions, both labelled "rootfs" (A/B updates look like this).
      twoExt = path.join(work, 'ab.img')
      run('truncate', ['-s', String(36 * MiB), twoExt])
      run('sfdisk', ['-q', twoExt], { input: 'label: gpt\nsize=16MiB, type=L, name=rootfs-a\nsize=16MiB, type=L, name=rootfs-b\n' })
      const fsFile = path.join(work, 'ab.fs')
      for (const p of sfdiskJson(twoExt).partitions) {
        makeFileSystem(fsFile, { fs: 'ext4', size: 16 * MiB, label: 'rootfs' })
        placeAt(twoExt, p.start * 512, fsFile)
      }
      rmSync(fsFile)
    })

    it('a selector that matches nothing lists the partitions', () => {
      expectActionFails({ image: gpt.path, partition: 'label=nope' }, [/No partition of .*gpt\.img matches label=nope/, /rootfs/, /BOOT/])
      expectCliFails(['--image', gpt.path, '--partition', '9'], 4, [/matches partition number 9/, /Partitions of/])
      expectCliFails(['--image', gpt.path, '--partition', 'name=rootfs-a'], 4, [/name=rootfs-a/])
    })

    it('no selector and two ext4 partitions', () => {
      expectActionFails({ image: twoExt }, [/2 ext2\/3\/4 partitions \(1, 2\)/, /partition input/, /rootfs-a/, /rootfs-b/])
      expectCliFails(['--image', twoExt], 4, [/2 ext2\/3\/4 partitions/])
    })

    it('a label that matches two partitions', () => {
      expectActionFails({ image: twoExt, partition: 'label=rootfs' }, [/2 partitions of .*ab\.img match label=rootfs \(1, 2\)/, /select by number/])
      // ... while name= and a number are unambiguous.
      const out = outDir('ab-ok')
      const ok = runCli([
        'bake',
        '--manifest',
        manifest,
        '--fleet-ca-cert',
        ca.certPath,
        '--fleet-ca-key',
        ca.keyPath,
        '--image',
        twoExt,
        '--partition',
        'name=rootfs-b',
        '--output-dir',
        out
      ])
      expect(ok.status, ok.stderr).toBe(0)
      expect(readValidManifest(path.join(out, 'credbake-manifest.json')).devices[0].output.partition.number).toBe(2)
    })
  })

  describe('a base image that cannot be read', () => {
    it('a missing file', () => {
      const missing = path.join(work, 'missing.img')
      expectActionFails({ image: missing }, [/image/, /missing\.img/])
      expectCliFails(['--image', missing], 2, [/missing\.img/])
    })

    it('a directory', () => {
      const dir = path.join(work, 'a-directory.img')
      mkdirSync(dir)
      expectActionFails({ image: dir }, [/a-directory\.img/, /Cannot read the base image|not a regular file|directory/i])
      expectCliFails(['--image', dir], 2, [/a-directory\.img/])
    })

    it('a dangling symbolic link', () => {
      const link = path.join(work, 'dangling.img')
      symlinkSync(path.join(work, 'gone', 'firmware.img'), link)
      expectActionFails({ image: link }, [/dangling\.img/])
      expectCliFails(['--image', link], 2, [/dangling\.img/])
    })

    it('a truncated .xz', () => {
      const xz = compressWithTool(gpt.path, 'xz')
      const cut = path.join(work, 'cut.img.xz')
      writeFileSync(cut, readFileSync(xz).subarray(0, 4096))
      rmSync(xz)
      const out = outDir('cut')
      expectActionFails({ image: cut, 'output-dir': out }, [/cut\.img\.xz/])
      expect(filesBelow(out)).toEqual([])
      expectCliFails(['--image', cut], 4, [/cut\.img\.xz/])
    })
  })
})

describe('tools', () => {
  /** A bin folder with a link to every program on PATH except `missing`. */
  function pathWithout(missing: string[]): string {
    const bin = path.join(work, `bin-without-${missing[0]}`)
    mkdirSync(bin, { recursive: true })
    for (const dir of (process.env.PATH ?? '').split(':')) {
      if (!dir || !existsSync(dir)) continue
      for (const name of readdirSync(dir)) {
        if (missing.includes(name) || existsSync(path.join(bin, name))) continue
        symlinkSync(path.join(dir, name), path.join(bin, name))
      }
    }
    return bin
  }

  it('debugfs missing: names the package and the apt-get line, before any certificate is issued', () => {
    const env = { PATH: pathWithout(['debugfs']) }
    const out = outDir('no-debugfs')
    expectActionFails({ image: gpt.path, partition: 'label=rootfs', 'output-dir': out }, [/debugfs/, /e2fsprogs/, /apt-get install -y [^`]*e2fsprogs/], env)
    expect(filesBelow(out)).toEqual([])
    expectCliFails(['--image', gpt.path], 4, [/debugfs was not found/, /e2fsprogs/, /apt-get install/], env)
  })

  it('mtools missing (PATH=/nonexistent, node by absolute path)', () => {
    const env = { PATH: '/nonexistent' }
    const out = outDir('no-mtools')
    expectActionFails({ image: gpt.path, partition: 'name=boot', 'output-dir': out }, [/mtools/, /apt-get install -y [^`]*mtools/], env)
    expect(filesBelow(out)).toEqual([])
    expectCliFails(['--image', gpt.path, '--partition', 'label=BOOT'], 4, [/was not found/, /package mtools/, /apt-get install/], env, NODE20)
  })

  it('an ext4 feature the installed e2fsprogs cannot write', () => {
    const future = path.join(work, 'future.img')
    run('cp', ['--sparse=always', gpt.path, future])
    setExtFeatureBit(future, gpt.part('rootfs').start, 'incompat', 0x800000)
    const out = outDir('feature')
    const action = expectActionFails({ image: future, partition: 'label=rootfs', 'output-dir': out }, [
      /e2fsprogs/,
      /cannot write/,
      /0x800000/,
      /newer e2fsprogs|without those features/
    ])
    expect(filesBelow(path.join(out, 'images'))).toEqual([])
    const cli = expectCliFails(['--image', future], 4, [/features the installed e2fsprogs/])
    // The messages and the annotation name the base image, not a per-device temp file that is gone.
    expectNoTempNames(action.stdout, cli.stderr)
    expect(errorsOf(action)).toMatch(/future\.img/)
  })
})

describe('the partition is too full for a device', () => {
  it('fails naming that device, removes its partial output, keeps the complete earlier ones, writes no manifest', async () => {
    // Three devices; the third has a 6000-character URI SAN, so its client.pem takes about 9 more
    // 1 KiB blocks. The file system is filled so that the first two fit and the third does not.
    const dir = path.join(work, 'full')
    mkdirSync(dir)
    const fullManifest = path.join(dir, 'devices.csv')
    writeFileSync(fullManifest, `serial,uri\nF-1,urn:a\nF-2,urn:b\nF-3,urn:${'c'.repeat(6000)}\n`)
    const bake = (image: string, out: string): CliRun =>
      runCli(['bake', '--manifest', fullManifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--san', 'URI:{uri}', '--image', image, '--output-dir', out])
    const freeBlocks = (file: string): number => Number(/Free blocks:\s+(\d+)/.exec(run('dumpe2fs', ['-h', file]))?.[1])

    const roomy = await buildBareExt4(dir, { size: 8 * MiB, file: 'roomy.ext4' })
    const measured = bake(roomy.path, path.join(dir, 'measure'))
    expect(measured.status, measured.stderr).toBe(0)
    const free = freeBlocks(roomy.path)
    const need = ['F-1', 'F-2', 'F-3'].map((s) => free - freeBlocks(path.join(dir, 'measure', 'images', `${s}.img`)))
    expect(need[2]! - need[0]!, `blocks each device needs: ${need}`).toBeGreaterThanOrEqual(4)

    // Fill a copy until exactly `target` blocks are free: one big file, then one-block files.
    const target = Math.max(need[0]!, need[1]!) + 2
    const full = path.join(dir, 'full.ext4')
    run('cp', ['--sparse=always', roomy.path, full])
    const filler = path.join(dir, 'filler')
    writeFileSync(filler, Buffer.alloc((free - target - 64) * 1024, 1))
    run('debugfs', ['-w', '-R', `write ${filler} /filler`, full])
    writeFileSync(filler, Buffer.alloc(1024, 1))
    for (let i = 0; freeBlocks(full) > target; i++) {
      expect(i).toBeLessThan(200)
      run('debugfs', ['-w', '-R', `write ${filler} /f${i}`, full])
    }
    expect(freeBlocks(full)).toBe(target)
    expect(run('e2fsck', ['-fn', full])).toMatch(/clean|files/)

    const out = path.join(dir, 'out')
    const result = bake(full, out)
    expect(result.status, result.stderr).toBe(5)
    expect(result.stderr).toMatch(/F-3/)
    expect(result.stderr).toMatch(/too full/)
    expect(result.stderr).not.toMatch(/F-1|F-2/)
    expect(existsSync(path.join(out, 'credbake-manifest.json'))).toBe(false)
    // Only the complete earlier devices are in images/: no partial F-3, no temp files.
    expect(filesBelow(path.join(out, 'images'))).toEqual(['F-1.img', 'F-2.img'])
    const fsck = (file: string): number => {
      try {
        execFileSync('e2fsck', ['-fn', file], { stdio: 'ignore' })
        return 0
      } catch (error) {
        return (error as { status: number }).status
      }
    }
    for (const serial of ['F-1', 'F-2']) expect(fsck(path.join(out, 'images', `${serial}.img`)), serial).toBe(0)
    // The same through the action: a failed step, the device named in an annotation.
    const actionOut = path.join(dir, 'out-action')
    const action = runAction({ manifest: fullManifest, 'fleet-ca-cert': ca.certPem, 'fleet-ca-key': ca.keyPem, san: 'URI:{uri}', image: full, 'output-dir': actionOut })
    expect(action.status).not.toBe(0)
    expect(errorsOf(action)).toMatch(/F-3.*too full|too full.*F-3/)
    expect(action.outputs.manifest).toBeUndefined()
    expect(filesBelow(path.join(actionOut, 'images'))).toEqual(['F-1.img', 'F-2.img'])
    // The messages and the annotation do not point at the removed temp file of F-3.
    expectNoTempNames(action.stdout, result.stderr)
    // The base was not touched by either run.
    expect(freeBlocks(full)).toBe(target)
    filled = { dir, full, target, freeBlocks }
  })

  it('a device in the middle fails: the ones after it are not kept, though each would fit', () => {
    expect(filled, 'the test above made the filled image').toBeDefined()
    const { dir, full, target, freeBlocks } = filled!
    const middle = path.join(dir, 'middle.csv')
    writeFileSync(middle, `serial,uri\nM-1,urn:a\nM-2,urn:${'c'.repeat(6000)}\nM-3,urn:b\nM-4,urn:d\nM-5,urn:e\n`)
    const out = path.join(dir, 'out-middle')
    const result = runCli(['bake', '--manifest', middle, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--san', 'URI:{uri}', '--image', full, '--output-dir', out])
    expect(result.status, result.stderr).toBe(5)
    expect(result.stderr).toMatch(/M-2.*too full|too full.*M-2/)
    expect(existsSync(path.join(out, 'credbake-manifest.json'))).toBe(false)
    // Nothing after M-2 is kept.
    expect(filesBelow(path.join(out, 'images'))).toEqual(['M-1.img'])
    expect(result.stderr, 'CLI error naming a removed temp file').not.toMatch(/\.tmp-\d+-/)
    expect(freeBlocks(full)).toBe(target)
  })
})

let filled: { dir: string; full: string; target: number; freeBlocks: (file: string) => number } | undefined
