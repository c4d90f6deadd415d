import type { Format, Settings } from '../settings/types.js'
import { DirSink } from './dir.js'
import { TarSink } from './tar.js'
import type { Sink, SinkContext } from './types.js'

/** How each format's sink is opened: a new sink is one file plus one entry here (and in FORMAT_SPECS). */
const OPENERS: Record<Format, (settings: Settings, context: SinkContext) => Promise<Sink>> = {
  dir: async (settings) => new DirSink(settings.outputDir, settings.ostreeOs),
  tar: async (settings, context) => new TarSink(settings.outputDir, context.mtime, settings.ostreeOs),
  // Images load their tools and base image lazily: tar and dir runs never pay for it.
  image: async (settings, context) => (await import('./image.js')).ImageSink.open(settings, context),
  partition: async (settings, context) => (await import('./image.js')).ImageSink.open(settings, context)
}

export function createSink(settings: Settings, context: SinkContext): Promise<Sink> {
  return OPENERS[settings.format](settings, context)
}
