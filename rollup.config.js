// Three bundles: dist/index.js is what a GitHub runner executes (runs.using: node24),
// dist/cli.js is the `credbake` command, and dist/aws-kms.js is the AWS SDK (@aws-sdk/client-kms),
// which both load with import() only when an awskms:// key is opened. Everything else is inlined,
// so the action needs no npm install; dist/ is all a runner (or an installed npm package) needs.
import commonjs from '@rollup/plugin-commonjs'
import json from '@rollup/plugin-json'
import { nodeResolve } from '@rollup/plugin-node-resolve'
import typescript from '@rollup/plugin-typescript'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

const plugins = () => [
  awsKmsSdkBeside(),
  typescript({ tsconfig: './tsconfig.build.json', module: 'NodeNext' }),
  nodeResolve({ preferBuiltins: true, exportConditions: ['node'] }),
  commonjs(),
  json(),
  nativeAddons()
]

// Native addons go next to the bundles as dist/native/<platform>-<arch>/<name>.node, because a
// runner has no node_modules: pkcs11js' Node-API addon (PKCS#11 is a C API; src/signer/pkcs11.ts
// loads it) and credbake's own fsmap (lseek SEEK_DATA/SEEK_HOLE, native/fsmap; src/util/fsmap.ts),
// both built by node-gyp at a development `npm ci`. Only the platform of this build is shipped;
// their bytes are the installed addons', unchanged. Both packages are devDependencies: the published
// package runs from dist/ alone and installs without a compiler (test/repo/package.test.ts).
const NATIVE_ADDONS = {
  'pkcs11.node': 'pkcs11js/build/Release/pkcs11.node',
  'fsmap.node': 'credbake-fsmap/build/Release/fsmap.node'
}

function nativeAddons() {
  const platform = `${process.platform}-${process.arch}`
  return {
    name: 'credbake-native-addons',
    generateBundle() {
      if (platform !== 'linux-x64') return
      const require = createRequire(import.meta.url)
      for (const [name, file] of Object.entries(NATIVE_ADDONS)) {
        this.emitFile({ type: 'asset', fileName: `native/${platform}/${name}`, source: readFileSync(require.resolve(file)) })
      }
    }
  }
}

// src/signer/awskms.ts imports the SDK through src/signer/awskms-sdk.ts with import(). In the two
// main bundles that import stays an import, of the SDK's own bundle beside them ('./aws-kms.js',
// resolved against the bundle's URL), so the SDK is not inlined: inlined modules are evaluated when
// the bundle starts, and every run, every worker thread and the PKCS#11 signer process re-run it.
// The SDK bundle holds nothing of credbake's (awskms-sdk.ts re-exports the SDK only).
const AWS_KMS_SDK_ENTRY = 'src/signer/awskms-sdk.ts'
const AWS_KMS_SDK_FILE = 'aws-kms.js'

function awsKmsSdkBeside() {
  const entry = path.resolve(AWS_KMS_SDK_ENTRY)
  return {
    name: 'credbake-aws-kms-sdk-beside',
    async resolveId(source, importer, options) {
      if (importer === undefined || !source.includes('awskms-sdk')) return null
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true })
      if (resolved?.id !== entry) return null
      // A relative external id is written into the bundle as it is.
      return { id: `./${AWS_KMS_SDK_FILE}`, external: true }
    }
  }
}

// @actions/core imports @actions/http-client (for getIDToken alone, which credbake never calls), and
// that imports undici (~1 MB) and tunnel, both CommonJS: rollup keeps a CommonJS module for its side
// effects even when nothing of it is used, so dist/index.js would parse and evaluate undici at every
// start (~30 ms of CPU and ~9 MiB per process or worker thread, measured). Declaring the two free of
// side effects drops them when unused; anything a bundle does use of them is still included.
const treeshake = {
  moduleSideEffects: (id) => !/[\\/]node_modules[\\/](undici|tunnel)[\\/]/.test(id)
}

export default [
  {
    input: 'src/index.ts',
    output: { file: 'dist/index.js', format: 'es', sourcemap: false, inlineDynamicImports: true },
    plugins: plugins(),
    treeshake,
    onwarn: quietWarnings
  },
  {
    input: 'src/cli.ts',
    output: {
      file: 'dist/cli.js',
      format: 'es',
      sourcemap: false,
      inlineDynamicImports: true,
      banner: '#!/usr/bin/env node'
    },
    plugins: plugins(),
    treeshake,
    onwarn: quietWarnings
  },
  // dist/device-worker.js: what a tar/dir device worker thread runs and nothing else, so each of
  // them parses and evaluates a fraction of a main bundle (src/pipeline/device-pool.ts starts its
  // workers from it). The native addons are the main bundles' to ship.
  {
    input: 'src/pipeline/device-worker-entry.ts',
    output: { file: 'dist/device-worker.js', format: 'es', sourcemap: false, inlineDynamicImports: true },
    plugins: [noLazyModulesInDeviceWorker(), ...plugins().filter((plugin) => plugin.name !== 'credbake-native-addons')],
    treeshake,
    onwarn: quietWarnings
  },
  {
    input: AWS_KMS_SDK_ENTRY,
    output: { file: `dist/${AWS_KMS_SDK_FILE}`, format: 'es', sourcemap: false, inlineDynamicImports: true },
    plugins: [typescript({ tsconfig: './tsconfig.build.json', module: 'NodeNext' }), nodeResolve({ preferBuiltins: true, exportConditions: ['node'] }), commonjs(), json()],
    onwarn: quietWarnings
  }
]

// A device worker only writes outputs through its format's worker writer. What the format records
// load lazily with import() (the image sink and verify's image reader, src/formats/image.ts) is
// never called there: those imports stay imports of files that are not shipped, instead of
// inlining the image modules into every worker.
function noLazyModulesInDeviceWorker() {
  return {
    name: 'credbake-no-lazy-modules-in-device-worker',
    resolveDynamicImport(specifier, importer) {
      if (typeof specifier === 'string' && /[\\/]src[\\/]formats[\\/]/.test(importer ?? '')) return false
      return null
    }
  }
}

// Circular imports inside third-party packages and `this` at module scope in
// TypeScript-emitted helpers are harmless here; anything else is shown.
function quietWarnings(warning, warn) {
  if (warning.code === 'CIRCULAR_DEPENDENCY' && /node_modules/.test(warning.message)) return
  if (warning.code === 'THIS_IS_UNDEFINED') return
  warn(warning)
}
