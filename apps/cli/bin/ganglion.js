#!/usr/bin/env node
// The `ganglion` command. Runs the compiled CLI (built by `npm install` through the root `prepare`
// script, or `npm run build`). The training commands run in a child process with glibc's malloc
// tuned for onnxruntime's large tensors (src/malloc-tunables.ts says why).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('ganglion: the CLI is not built yet; run `npm run build` at the repository root\n');
  process.exit(1);
}
const { wantsTunables, startTuned } = await import('../dist/malloc-tunables.js');
const argv = process.argv.slice(2);
if (wantsTunables(argv)) startTuned(fileURLToPath(import.meta.url), argv);
else await import(main);
