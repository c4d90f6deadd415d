// The action's entry point (dist/index.js): the main step, the post: step (the same bundle, run
// again at the end of the job), or a worker thread (issuance, hashing) when started as one.
import { runIfWorker } from './workers.js'
import { run } from './main.js'
import { isPostStep, post } from './post.js'

if (!runIfWorker()) void (isPostStep() ? post() : run())
