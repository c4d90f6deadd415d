// output-dir/superseded.pem, a review export: every certificate that is no longer its device's
// active one, in the order of the manifest's superseded list: hand them to the server to revoke.
import path from 'node:path'
import { SUPERSEDED_FILE } from '../shapes/review.js'
import { AtomicStream } from '../util/atomic-stream.js'
import type { ReviewExport } from './types.js'

export const supersededExport: ReviewExport = {
  name: SUPERSEDED_FILE,
  always: true,
  files: [SUPERSEDED_FILE],
  open(run) {
    const stream = new AtomicStream(path.join(run.outputDir, SUPERSEDED_FILE))
    return {
      device: () => {},
      superseded: (_entry, pem) => stream.push(pem.endsWith('\n') ? pem : `${pem}\n`),
      drain: () => stream.flushIfFull(),
      commit: async () => {
        await stream.commit()
        return []
      },
      abandon: () => stream.abandon()
    }
  }
}
