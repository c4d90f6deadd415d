// The action's entry point (dist/index.js): runs main, or serves as an issuance worker thread
// when the bundle is started as one.
import { runIfIssuerWorker } from './issue/worker.js'
import { run } from './main.js'

if (!runIfIssuerWorker()) void run()
