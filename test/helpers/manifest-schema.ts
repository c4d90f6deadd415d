import { readFileSync } from 'node:fs'
import path from 'node:path'
import Ajv2020 from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { ROOT } from './run.js'

const ajv = new Ajv2020.default({ allErrors: true, strict: true })
addFormats.default(ajv)
const validate = ajv.compile(JSON.parse(readFileSync(path.join(ROOT, 'schema/manifest.schema.json'), 'utf8')))

/** Parse a produced credbake-manifest.json and throw with the schema errors unless it is valid. */
export function readValidManifest(file: string): any {
  const manifest = JSON.parse(readFileSync(file, 'utf8'))
  if (!validate(manifest)) throw new Error(`${file} does not match schema/manifest.schema.json: ${ajv.errorsText(validate.errors)}`)
  return manifest
}
