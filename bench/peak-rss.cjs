// Preload (`node -r ./bench/peak-rss.cjs ...`): at exit, print the process's peak resident set
// (VmHWM from /proc/self/status, which counts every thread, worker threads included) to stderr
// as one line `credbake-peak-rss-kib: N`, for bench/memory.js to read. Linux only; silent elsewhere.
'use strict'
const { readFileSync, writeSync } = require('node:fs')
const { isMainThread } = require('node:worker_threads')

if (isMainThread) {
  process.on('exit', () => {
    try {
      const status = readFileSync('/proc/self/status', 'utf8')
      const peak = /^VmHWM:\s*(\d+)\s*kB/m.exec(status)
      if (peak) writeSync(2, `credbake-peak-rss-kib: ${peak[1]}\n`)
    } catch {
      // not Linux: nothing to report
    }
  })
}
