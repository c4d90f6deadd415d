// Reading a device's output as it is now, for `credbake verify`: each format's record reads its own
// outputs (src/formats: a tree, an overlay, an image or a partition); here, what holds for all of
// them. An output is evidence, not trusted (src/formats/read.ts says how each read is bounded).
import { lstatSync, type Stats } from 'node:fs'
import path from 'node:path'
import { linkTarget, OutputUnreadable, type OutputRequest, type OutputView, type ReadContext } from '../formats/read.js'
import { findFormat } from '../formats/registry.js'
import type { ManifestDevice } from '../shapes/review.js'

export async function readOutput(context: ReadContext, device: ManifestDevice, request: OutputRequest): Promise<OutputView> {
  // The folder holding the outputs is output-dir's; a link there would lead every read elsewhere.
  refuseLinkedParent(context.outputDir, device.output.path)
  const format = findFormat(context.header.output.format)
  if (!format) throw new OutputUnreadable(`output format ${context.header.output.format} is not one credbake verify reads`)
  return format.read(context, device, request)
}

const checkedParents = new Map<string, string | undefined>()

/** The folders between output-dir and the output (overlays/, devices/, ...) must not be links. */
function refuseLinkedParent(outputDir: string, relative: string): void {
  const problem = linkedFolderProblem(outputDir, relative)
  if (problem) throw new OutputUnreadable(problem)
}

/**
 * Why a file at `relative` in output-dir would be reached through a symbolic link (a folder on the
 * way, such as images/, is one), or undefined. A finding for the device, never followed: checked
 * before anything of a device is read, its bmap included.
 */
export function linkedFolderProblem(outputDir: string, relative: string): string | undefined {
  const parts = relative.split('/').slice(0, -1)
  for (let depth = 1; depth <= parts.length; depth++) {
    const folder = path.join(outputDir, ...parts.slice(0, depth))
    let problem = checkedParents.get(folder)
    if (!checkedParents.has(folder)) {
      let info: Stats | undefined
      try {
        info = lstatSync(folder)
      } catch {
        info = undefined
      }
      problem = info?.isSymbolicLink() ? `${parts.slice(0, depth).join('/')}/ in output-dir is a symbolic link (to ${linkTarget(folder)}); verify does not follow links` : undefined
      checkedParents.set(folder, problem)
    }
    if (problem) return problem
  }
  return undefined
}
