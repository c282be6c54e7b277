#!/usr/bin/env node
// The `ganglion` command. Runs the compiled CLI (built by `npm install` through the root `prepare`
// script, or `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('ganglion: the CLI is not built yet; run `npm run build` at the repository root\n');
  process.exit(1);
}
await import(main);
