// The action's entry point (dist/index.js): only runs main.
import { run } from './main.js'

void run()
