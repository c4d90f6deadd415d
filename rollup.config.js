// Two bundles: dist/index.js is what a GitHub runner executes (runs.using: node24),
// dist/cli.js is the `credbake` command. Everything is inlined so the action needs no npm install.
import commonjs from '@rollup/plugin-commonjs'
import json from '@rollup/plugin-json'
import { nodeResolve } from '@rollup/plugin-node-resolve'
import typescript from '@rollup/plugin-typescript'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const plugins = () => [
  typescript({ tsconfig: './tsconfig.build.json', module: 'NodeNext' }),
  nodeResolve({ preferBuiltins: true, exportConditions: ['node'] }),
  commonjs(),
  json(),
  nativePkcs11()
]

// PKCS#11 is a C API: pkcs11js' Node-API addon, built by node-gyp at npm install, goes next to the
// bundles as dist/native/<platform>-<arch>/pkcs11.node (src/signer/pkcs11.ts loads it from there),
// because a runner has no node_modules. Only the platform of this build is shipped; its bytes are
// the installed addon's, unchanged.
function nativePkcs11() {
  const platform = `${process.platform}-${process.arch}`
  return {
    name: 'credbake-native-pkcs11',
    generateBundle() {
      if (platform !== 'linux-x64') return
      const file = createRequire(import.meta.url).resolve('pkcs11js/build/Release/pkcs11.node')
      this.emitFile({ type: 'asset', fileName: `native/${platform}/pkcs11.node`, source: readFileSync(file) })
    }
  }
}

export default [
  {
    input: 'src/index.ts',
    output: { file: 'dist/index.js', format: 'es', sourcemap: false, inlineDynamicImports: true },
    plugins: plugins(),
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
    onwarn: quietWarnings
  }
]

// Circular imports inside third-party packages and `this` at module scope in
// TypeScript-emitted helpers are harmless here; anything else is shown.
function quietWarnings(warning, warn) {
  if (warning.code === 'CIRCULAR_DEPENDENCY' && /node_modules/.test(warning.message)) return
  if (warning.code === 'THIS_IS_UNDEFINED') return
  warn(warning)
}
