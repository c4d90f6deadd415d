// The `credbake` command's entry point (dist/cli.js); also the worker threads'.
import { main } from './cli/main.js'
import { handleStopSignals } from './util/cancel.js'
import { neutraliseOutput } from './util/log-text.js'
import { failIfUnsettled } from './util/unsettled.js'
import { runIfWorker } from './workers.js'

if (!runIfWorker()) {
  // SIGINT, SIGTERM, SIGHUP: bake and merge stop cleanly, anything else (or a second signal) at
  // once, removing the secret temp folder and the lock first (src/util/cancel.ts).
  const say = (line: string): void => void process.stderr.write(neutraliseOutput(`${line}\n`))
  handleStopSignals({ say })
  failIfUnsettled(main(process.argv.slice(2)), say).then(
    (code) => {
      process.exitCode = code
    },
    (error: unknown) => {
      process.stderr.write(neutraliseOutput(`credbake: ${error instanceof Error ? error.message : String(error)}\n`))
      process.exitCode = 1
    }
  )
}
