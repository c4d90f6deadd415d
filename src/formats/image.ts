// Formats "image" and "partition": per device, a copy of the base image (or of just the selected
// partition) with the bundle written into the partition's file system. Their sink
// (image-sink.ts: debugfs/mtools, copies, hashing threads) and verify's reader (image-read.ts)
// are loaded only when a run uses them: tar and dir runs, and the device workers, never pay for it.
import path from 'node:path'
import { compressionExtension, type Compression } from '../settings/types.js'
import type { OutputFormat, OutputRun } from './types.js'

/** Extensions an image output keeps from its base image's name; any other becomes `.img`. */
const IMAGE_EXTENSIONS = ['.img', '.wic', '.sdimg', '.rpi-sdimg', '.raw', '.bin', '.iso', '.hddimg']

/** `images/SERIAL<ext of the base image>[.gz|.xz|.zst]`; undefined without the base image's name. */
function imageOutputPath(serial: string, run: OutputRun): string | undefined {
  if (run.image === undefined) return undefined
  const ext = path.extname(path.basename(run.image).replace(/\.(gz|xz|zst|zstd)$/i, '')).toLowerCase()
  return `images/${serial}${IMAGE_EXTENSIONS.includes(ext) ? ext : '.img'}${compressionExtension(run.compress as Compression)}`
}

function inspectLines(command: string): string[] {
  return ["  Look inside one device's output (files, modes, owners; nothing mounted):", `    ${command}`]
}

export const imageFormat: OutputFormat = {
  name: 'image',
  summary: 'a full image',
  folder: 'images',
  takesImage: true,
  tree: false,
  noun: 'image',
  largeOutputs: true,
  outputPath: imageOutputPath,
  lookInside: (output, credbake, partition) => inspectLines(`${credbake} inspect --files${partition === undefined ? '' : ` --partition ${partition}`} ${output}`),
  open: async (settings, context) => (await import('./image-sink.js')).ImageSink.open(imageFormat, true, settings, context),
  read: async (context, device, request) => (await import('./image-read.js')).readImageOutput(context, device, request, true)
}

export const partitionFormat: OutputFormat = {
  name: 'partition',
  summary: 'only the selected partition',
  folder: 'partitions',
  takesImage: true,
  tree: false,
  noun: 'image',
  largeOutputs: true,
  outputPath: (serial, run) => `partitions/${serial}.img${compressionExtension(run.compress as Compression)}`,
  // The output is the partition's file system itself: nothing to select.
  lookInside: (output, credbake) => inspectLines(`${credbake} inspect --files ${output}`),
  open: async (settings, context) => (await import('./image-sink.js')).ImageSink.open(partitionFormat, false, settings, context),
  read: async (context, device, request) => (await import('./image-read.js')).readImageOutput(context, device, request, false)
}
