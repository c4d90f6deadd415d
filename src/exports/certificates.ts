// output-dir/certificates.pem, a review export: every active device's certificate, in manifest
// order (one block per device entry; verify reads them in step), for registration or revocation.
import path from 'node:path'
import { CERTIFICATES_FILE } from '../shapes/review.js'
import { AtomicStream } from '../util/atomic-stream.js'
import type { ReviewExport } from './types.js'

export const certificatesExport: ReviewExport = {
  name: CERTIFICATES_FILE,
  always: true,
  files: [CERTIFICATES_FILE],
  open(run) {
    const stream = new AtomicStream(path.join(run.outputDir, CERTIFICATES_FILE))
    return {
      device: ({ certificatePem: pem, ascii }) => {
        stream.push(pem, ascii)
        if (!pem.endsWith('\n')) stream.push('\n', true)
      },
      drain: () => stream.flushIfFull(),
      commit: async () => {
        await stream.commit()
        return []
      },
      abandon: () => stream.abandon()
    }
  }
}
