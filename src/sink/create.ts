import type { Reporter } from '../pipeline/reporter.js'
import type { Settings } from '../settings/types.js'
import type { SecretTemp } from '../util/secret-temp.js'
import { DirSink } from './dir.js'
import { TarSink } from './tar.js'
import type { Sink } from './types.js'

export interface SinkContext {
  /** 0700 folder for files a tool must read (key files for debugfs/mtools). */
  secrets: SecretTemp
  /** One timestamp for the whole run (tar entry mtimes). */
  mtime: Date
  reporter: Reporter
}

export async function createSink(settings: Settings, context: SinkContext): Promise<Sink> {
  switch (settings.format) {
    case 'dir':
      return new DirSink(settings.outputDir)
    case 'tar':
      return new TarSink(settings.outputDir, context.mtime)
    case 'image':
    case 'partition': {
      const { ImageSink } = await import('./image.js')
      return ImageSink.open(settings, context)
    }
  }
}
