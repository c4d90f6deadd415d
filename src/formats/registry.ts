// Every output format, in the order the `format` input lists them. A new format is one file in this
// folder exporting its OutputFormat record and one line here; the settings, the bake, the review,
// verify, merge, the demo and the inputs table all ask this list. (The manifest schema's enum and
// the docs table in docs/images.md are checked against it by test/formats/registry.test.ts.)
import path from 'node:path'
import type { ManifestDevice } from '../shapes/review.js'
import { dirFormat } from './dir.js'
import { imageFormat, partitionFormat } from './image.js'
import { tarFormat } from './tar.js'
import type { ChecksumSource, OutputFormat } from './types.js'

export const OUTPUT_FORMATS: readonly OutputFormat[] = [imageFormat, partitionFormat, tarFormat, dirFormat]

/** The names the `format` input accepts. */
export const FORMAT_NAMES: readonly string[] = OUTPUT_FORMATS.map((format) => format.name)

/** The folders of output-dir that hold per-device outputs (the trust boundary accepts paths in these only). */
export const OUTPUT_FOLDERS: readonly string[] = OUTPUT_FORMATS.map((format) => format.folder)

/** The format called `name`, or undefined (a manifest of another credbake, or a damaged one). */
export function findFormat(name: string): OutputFormat | undefined {
  return OUTPUT_FORMATS.find((format) => format.name === name)
}

/** The format called `name`; `name` comes from parsed settings or a checked journal, so it is one. */
export function outputFormat(name: string): OutputFormat {
  const format = findFormat(name)
  if (!format) throw new Error(`internal: no output format "${name}"`)
  return format
}

/** The format a bake uses when the `format` input is not given: the first that takes (or does not take) a base image. */
export function defaultFormat(withImage: boolean): OutputFormat {
  return OUTPUT_FORMATS.find((format) => format.takesImage === withImage) as OutputFormat
}

/**
 * The SHA256SUMS lines of one device's output, as [path, sha256] pairs: the output file itself,
 * or, for a tree, one line per file in it except private keys (a folder cannot be hashed by
 * sha256sum, and a hash of a key file is derived from the key); then its bmap, if any.
 */
export function outputChecksums(format: Pick<OutputFormat, 'tree'>, device: ChecksumSource | ManifestDevice): Array<[string, string]> {
  const sums: Array<[string, string]> = []
  if (format.tree) {
    for (const file of device.files) {
      if (file.privateKey || file.sha256 === undefined) continue
      // Where the file is in the tree: its sysroot path when the output carries those (OSTree).
      const inside = (file.partitionPath ?? file.path).split('/').filter(Boolean).join('/')
      sums.push([path.posix.join(device.output.path, inside), file.sha256])
    }
  } else {
    sums.push([device.output.path, device.output.sha256])
  }
  if (device.output.bmap) sums.push([device.output.bmap.path, device.output.bmap.sha256])
  return sums
}
