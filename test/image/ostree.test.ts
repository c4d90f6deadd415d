// Finding an OSTree physical sysroot with debugfs, in images made with the real ostree CLI
// (test/helpers/ostree.ts): stateroots and their deployments as `ostree admin status` names them,
// nothing for an ordinary root file system, and the choice of stateroot refused or made.
import { mkdtemp } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.js'
import { chooseStateroot, detectOstreeSysroot } from '../../src/image/ostree.js'
import { buildGptImage, cleanupScratch, MiB, scratchDir, type BuiltImage } from '../helpers/images.js'
import { buildOstreeImage, type OstreeImage } from '../helpers/ostree.js'

let dir: string
let temp: string
let one: OstreeImage
let two: OstreeImage
let plain: BuiltImage

beforeAll(async () => {
  dir = await scratchDir('credbake-ostree-')
  temp = await mkdtemp(path.join(dir, 'tmp-'))
  one = await buildOstreeImage(dir, { table: 'gpt', stateroots: ['poky'] })
  two = await buildOstreeImage(dir, { table: 'mbr', stateroots: ['poky', 'torizon'] })
  plain = await buildGptImage(dir, { rootSize: 16 * MiB })
})
afterAll(cleanupScratch)

function at(image: BuiltImage, key: string | number) {
  return { image: image.path, offset: image.part(key).start, partition: `partition ${image.part(key).number}`, tempDir: temp, serial: 'base image' }
}

describe('detectOstreeSysroot', () => {
  it('finds the one stateroot of a GPT image and its deployment', async () => {
    const sysroot = await detectOstreeSysroot(at(one, 'otaroot'))
    expect(sysroot).toEqual({ stateroots: [{ name: 'poky', deployments: one.deployments.poky }], unusable: [] })
    expect(one.deployments.poky![0]).toMatch(/^[0-9a-f]{64}\.0$/)
  })

  it('finds both stateroots of an MBR image', async () => {
    const sysroot = await detectOstreeSysroot(at(two, 2))
    expect(sysroot?.stateroots.map((s) => s.name)).toEqual(['poky', 'torizon'])
    expect(sysroot?.stateroots[1]?.deployments).toEqual(two.deployments.torizon)
  })

  it('finds nothing in an ordinary root file system', async () => {
    expect(await detectOstreeSysroot(at(plain, 'rootfs'))).toBeNull()
  })
})

describe('chooseStateroot', () => {
  it('takes the only one, or the one asked for', async () => {
    const single = (await detectOstreeSysroot(at(one, 'otaroot')))!
    expect(chooseStateroot(single, undefined, 'partition 2').name).toBe('poky')
    const both = (await detectOstreeSysroot(at(two, 2)))!
    expect(chooseStateroot(both, 'torizon', 'partition 2').name).toBe('torizon')
  })

  it('refuses to guess among several, naming each, and a stateroot that is not there, naming those that are', async () => {
    const both = (await detectOstreeSysroot(at(two, 2)))!
    const guess = (() => {
      try {
        chooseStateroot(both, undefined, 'partition 2 (otaroot)')
      } catch (error) {
        return error as InputError
      }
    })()
    expect(guess).toBeInstanceOf(InputError)
    expect(guess!.input).toBe('ostree-os')
    expect(guess!.message).toMatch(/2 stateroots: poky \(deployment [0-9a-f]{6}…[0-9a-f]{4}\.0\); torizon/)
    expect(guess!.message).toContain('ostree-os: poky or ostree-os: torizon')
    const missing = (() => {
      try {
        chooseStateroot(both, 'fedora', 'partition 2 (otaroot)')
      } catch (error) {
        return error as InputError
      }
    })()
    expect(missing!.input).toBe('ostree-os')
    expect(missing!.message).toContain('no such stateroot (no /ostree/deploy/fedora/var)')
    expect(missing!.message).toContain('one of poky, torizon')
  })
})
