// The format registry is the one place formats are decided: what is outside it but published
// (the manifest schema's enum, the docs table) must say the same, every record must be complete
// and consistent with what its writers and the trust boundary do, and the settings must take
// exactly its names.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { defaultFormat, FORMAT_NAMES, findFormat, OUTPUT_FOLDERS, OUTPUT_FORMATS, outputChecksums } from '../../src/formats/registry.js'
import { INPUTS } from '../../src/settings/inputs.js'
import { outputPathProblem } from '../../src/util/confined.js'
import { ROOT } from '../helpers/run.js'

const schema = JSON.parse(readFileSync(path.join(ROOT, 'schema/manifest.schema.json'), 'utf8'))

describe('the output format registry', () => {
  it('names each format and folder once', () => {
    expect(new Set(FORMAT_NAMES).size).toBe(OUTPUT_FORMATS.length)
    expect(new Set(OUTPUT_FOLDERS).size).toBe(OUTPUT_FORMATS.length)
    for (const format of OUTPUT_FORMATS) expect(findFormat(format.name)).toBe(format)
    expect(findFormat('squashfs')).toBeUndefined()
  })

  it('the manifest schema enumerates exactly the registered formats', () => {
    expect(schema.properties.output.properties.format.enum).toEqual([...FORMAT_NAMES])
  })

  it('the docs table in docs/images.md has one row per format, with its folder', () => {
    const text = readFileSync(path.join(ROOT, 'docs/images.md'), 'utf8')
    const rows = text.split('\n').filter((line) => /^\| `[a-z0-9-]+`/.test(line))
    expect(rows.map((row) => /^\| `([a-z0-9-]+)`/.exec(row)?.[1])).toEqual([...FORMAT_NAMES])
    for (const format of OUTPUT_FORMATS) expect(rows.find((row) => row.startsWith(`| \`${format.name}\``))).toContain(`\`${format.folder}/`)
  })

  it('the format input describes every format and its default from the registry', () => {
    const input = INPUTS.find((spec) => spec.name === 'format')!
    for (const format of OUTPUT_FORMATS) expect(input.description).toContain(`\`${format.name}\` (${format.summary})`)
    expect(defaultFormat(true).takesImage).toBe(true)
    expect(defaultFormat(false).takesImage).toBe(false)
  })

  it('every output path a record gives lies in its folder and passes the trust boundary for its serial', () => {
    for (const format of OUTPUT_FORMATS) {
      for (const compress of format.takesImage ? ['none', 'gz', 'xz', 'zst'] : ['none']) {
        const output = format.outputPath('SN-1.a_b', { compress, image: '/work/base.wic.gz' })
        expect(output, `${format.name} ${compress}`).toBeDefined()
        expect(output!.startsWith(`${format.folder}/`)).toBe(true)
        expect(outputPathProblem(output, OUTPUT_FOLDERS, 'SN-1.a_b')).toBeUndefined()
      }
    }
    // Image outputs keep the base image's extension, compressed ones say how.
    expect(findFormat('image')!.outputPath('A', { compress: 'zst', image: 'x/base.wic.gz' })).toBe('images/A.wic.zst')
    expect(findFormat('image')!.outputPath('A', { compress: 'none', image: 'base.qcow' })).toBe('images/A.img')
    expect(findFormat('image')!.outputPath('A', { compress: 'none' })).toBeUndefined()
    expect(findFormat('partition')!.outputPath('A', { compress: 'gz' })).toBe('partitions/A.img.gz')
  })

  it('formats that workers write have a worker writer; the others are written by the main thread', () => {
    for (const format of OUTPUT_FORMATS) {
      expect(typeof format.open).toBe('function')
      expect(typeof format.read).toBe('function')
      if (format.takesImage) expect(format.workerWriter).toBeUndefined()
    }
    for (const name of ['tar', 'dir']) expect(findFormat(name)?.workerWriter, name).toBeDefined()
  })

  it("how to look inside one output: each record gives a command naming the output (the demo's next steps)", () => {
    for (const format of OUTPUT_FORMATS) {
      const lines = format.lookInside("'out/x y'", 'credbake', 'label=rootfs')
      expect(lines.length, format.name).toBeGreaterThan(0)
      expect(lines.at(-1)!.endsWith(" 'out/x y'"), format.name).toBe(true)
    }
    expect(findFormat('tar')!.lookInside('o.tar.gz', 'credbake', undefined).join('\n')).toMatch(/tar -tvzf o\.tar\.gz$/)
    // A full image needs its partition selected; a partition output is one file system already.
    expect(findFormat('image')!.lookInside('i.img', 'credbake', 'label=rootfs').at(-1)).toBe('    credbake inspect --files --partition label=rootfs i.img')
    expect(findFormat('partition')!.lookInside('p.img', 'credbake', 'label=rootfs').at(-1)).toBe('    credbake inspect --files p.img')
  })

  it('SHA256SUMS: a file output is one line (and its bmap), a tree one line per file but keys', () => {
    const output = { path: 'x/A', sha256: 'a'.repeat(64), bmap: { path: 'x/A.bmap', sha256: 'b'.repeat(64) } }
    const files = [
      { path: '/var/sota/import/client.pem', sha256: 'c'.repeat(64), privateKey: false },
      { path: '/var/sota/import/pkey.pem', privateKey: true }
    ]
    expect(outputChecksums({ tree: false }, { output, files })).toEqual([
      ['x/A', 'a'.repeat(64)],
      ['x/A.bmap', 'b'.repeat(64)]
    ])
    expect(outputChecksums({ tree: true }, { output: { path: 'devices/A', sha256: 'd'.repeat(64) }, files })).toEqual([['devices/A/var/sota/import/client.pem', 'c'.repeat(64)]])
  })
})
