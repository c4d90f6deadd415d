// The action's entry point (dist/index.js): runs main, or serves as a worker thread (issuance, hashing)
// when the bundle is started as one.
import { runIfWorker } from './workers.js'
import { run } from './main.js'

if (!runIfWorker()) void run()
