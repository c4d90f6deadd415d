// The `credbake` command's entry point (dist/cli.js); also the issuance worker thread's.
import { main } from './cli/main.js'
import { runIfIssuerWorker } from './issue/worker.js'

if (!runIfIssuerWorker()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (error: unknown) => {
      process.stderr.write(`credbake: ${error instanceof Error ? error.message : String(error)}\n`)
      process.exitCode = 1
    }
  )
}
