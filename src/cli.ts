// The `credbake` command's entry point (dist/cli.js); also the worker threads'.
import { main } from './cli/main.js'
import { neutraliseOutput } from './util/log-text.js'
import { runIfWorker } from './workers.js'

if (!runIfWorker()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (error: unknown) => {
      process.stderr.write(neutraliseOutput(`credbake: ${error instanceof Error ? error.message : String(error)}\n`))
      process.exitCode = 1
    }
  )
}
