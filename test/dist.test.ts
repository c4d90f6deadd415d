// dist/ is what a runner executes: it must equal a fresh `npm run bundle` of the committed src/
// (what actions/typescript-action's check-dist workflow does).
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { rollup, type RollupOptions } from 'rollup'
import { ROOT } from './helpers/run.js'

describe('dist/', () => {
  it('equals a fresh bundle of src/', async () => {
    const configs = (await import(path.join(ROOT, 'rollup.config.js'))).default as RollupOptions[]
    const previous = process.cwd()
    process.chdir(ROOT)
    try {
      for (const config of configs) {
        const output = Array.isArray(config.output) ? config.output[0] : config.output
        const bundle = await rollup(config)
        const { output: chunks } = await bundle.generate(output ?? {})
        await bundle.close()
        // rollup's chunk code already starts with the banner.
        const fresh = (chunks[0] as { code: string }).code
        const file = path.join(ROOT, output?.file as string)
        expect(readFileSync(file, 'utf8') === fresh, `${file} is stale: run npm run bundle and commit dist/`).toBe(true)
        // Assets next to the bundle (dist/native/<platform>/pkcs11.node) must be the fresh ones too.
        for (const asset of chunks.slice(1)) {
          if (asset.type !== 'asset') continue
          const assetFile = path.join(path.dirname(file), asset.fileName)
          expect(Buffer.from(asset.source).equals(readFileSync(assetFile)), `${assetFile} is stale: run npm run bundle and commit dist/`).toBe(true)
        }
      }
    } finally {
      process.chdir(previous)
    }
  })
})
