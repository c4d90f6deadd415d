// dist/ is what a runner executes: it must equal a fresh `npm run bundle` of the committed src/
// (what actions/typescript-action's check-dist workflow does), file for file: dist/index.js,
// dist/cli.js, dist/aws-kms.js (the AWS SDK, loaded only for awskms:// keys) and the assets beside
// them (dist/native/<platform>/pkcs11.node); no file missing, none left over from an older build.
// A native addon compiled here by another compiler than the committed one (a GitHub runner's) only
// has to load: .github/workflows/check-dist.yml compares it on the toolchain that built it.
import { readFileSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { rollup, type RollupOptions } from 'rollup'
import { ROOT } from './helpers/run.js'

const DIST = path.join(ROOT, 'dist')

/** The compiler an ELF object names in its .comment section ("GCC: (Debian 12.2.0-14) 12.2.0"). */
function compilerOf(bytes: Buffer): string | undefined {
  return /GCC: \([^\0]*/.exec(bytes.toString('latin1'))?.[0]
}

interface FreshFile {
  bytes: Buffer
  /** Source modules of a chunk (absolute paths, or rollup's \0-prefixed virtual ids), relative to ROOT. */
  modules: string[]
}

/** Every file a fresh bundle writes, by its path inside dist/. */
const fresh = new Map<string, FreshFile>()

beforeAll(async () => {
  const configs = (await import(path.join(ROOT, 'rollup.config.js'))).default as RollupOptions[]
  const previous = process.cwd()
  process.chdir(ROOT)
  try {
    for (const config of configs) {
      const output = Array.isArray(config.output) ? config.output[0] : config.output
      const bundle = await rollup(config)
      const { output: items } = await bundle.generate(output ?? {})
      await bundle.close()
      const dir = path.dirname(path.join(ROOT, output?.file as string))
      for (const item of items) {
        // rollup's chunk code already starts with the banner.
        const bytes = item.type === 'chunk' ? Buffer.from(item.code) : Buffer.from(item.source)
        const modules = item.type === 'chunk' ? Object.keys(item.modules).map((id) => (id.startsWith(ROOT) ? path.relative(ROOT, id) : id)) : []
        const name = path.relative(DIST, path.join(dir, item.fileName))
        const earlier = fresh.get(name)
        // Both main bundles emit the native addon: the same bytes, one file.
        if (earlier) expect(earlier.bytes.equals(bytes), `two bundles write different ${name}`).toBe(true)
        fresh.set(name, { bytes, modules })
      }
    }
  } finally {
    process.chdir(previous)
  }
}, 600_000)

describe('dist/', () => {
  it('equals a fresh bundle of src/, every file of it', () => {
    const present = readdirSync(DIST, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(DIST, path.join(entry.parentPath, entry.name)))
      .sort()
    expect(present, 'dist/ holds other files than a fresh bundle: run npm run bundle and commit dist/').toEqual([...fresh.keys()].sort())
    for (const [name, file] of fresh) {
      const committed = readFileSync(path.join(DIST, name))
      if (name.endsWith('.node') && !file.bytes.equals(committed) && compilerOf(file.bytes) !== compilerOf(committed)) {
        // Built here by another compiler than the committed addon (a CI runner's): its bytes
        // cannot match. The committed one must still load; check-dist compares them on the
        // toolchain that built them.
        expect(typeof createRequire(import.meta.url)(path.join(DIST, name)), `dist/${name} does not load`).toBe('object')
        continue
      }
      expect(file.bytes.equals(committed), `dist/${name} is stale: run npm run bundle and commit dist/`).toBe(true)
    }
    // The files a runner needs: a build that stops emitting one must fail here too.
    expect([...fresh.keys()]).toEqual(
      expect.arrayContaining([
        'index.js',
        'cli.js',
        'device-worker.js',
        'aws-kms.js',
        ...(process.platform === 'linux' && process.arch === 'x64' ? ['native/linux-x64/pkcs11.node'] : [])
      ])
    )
  })

  it('the AWS SDK is in dist/aws-kms.js alone, which holds nothing of credbake but its entry; no unused undici', () => {
    const sdkModule = (id: string): boolean => /node_modules\/@(aws-sdk|smithy|aws-crypto)\//.test(id)
    const sdk = fresh.get('aws-kms.js')!
    expect(sdk.modules.some(sdkModule)).toBe(true)
    // No second copy of src/errors.ts (its classes are used with instanceof) or any other src/ file.
    expect(sdk.modules.filter((id) => id.startsWith('src/'))).toEqual(['src/signer/awskms-sdk.ts'])
    for (const main of ['index.js', 'cli.js']) {
      const { modules, bytes } = fresh.get(main)!
      expect(modules.filter(sdkModule), `${main} inlines the AWS SDK`).toEqual([])
      expect(modules).not.toContain('src/signer/awskms-sdk.ts')
      expect(modules).toContain('src/errors.ts')
      // @actions/http-client's undici and tunnel are unused (rollup.config.js): not parsed at every start.
      expect(
        modules.filter((id) => /node_modules\/(undici|tunnel)\//.test(id)),
        `${main} holds undici or tunnel`
      ).toEqual([])
      // The SDK is loaded from beside the bundle, by a dynamic import only.
      const code = bytes.toString('utf8')
      expect(code).toContain("import('./aws-kms.js')")
      expect(code).not.toMatch(/^import[^;]*['"]\.\/aws-kms\.js['"]/m)
    }
  })
})
