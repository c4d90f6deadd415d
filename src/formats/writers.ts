// The sinks whose outputs worker threads write themselves, by kind (see OutputWriterSpec).
import { DirWriter } from './dir.js'
import { TarWriter } from './tar.js'
import type { OutputWriter, OutputWriterSpec } from './types.js'

const WRITERS: Record<OutputWriterSpec['kind'], (spec: OutputWriterSpec) => OutputWriter> = {
  tar: (spec) => new TarWriter(spec.outputDir, new Date(spec.mtime)),
  dir: (spec) => new DirWriter(spec.outputDir)
}

export function openOutputWriter(spec: OutputWriterSpec): OutputWriter {
  return WRITERS[spec.kind](spec)
}
