// Time the char-LSTM training step in headless Chromium: build the site, serve it on 127.0.0.1,
// open bench.html and print its results table. Not a test; numbers for docs/benchmarks.md.
//   node apps/web/scripts/bench-browser.mjs [--quick] [--only NAME,NAME] [--threads N]
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { URLSearchParams } from 'node:url';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';
import { build, preview } from 'vite';

const { values } = parseArgs({
  options: { quick: { type: 'boolean' }, only: { type: 'string' }, threads: { type: 'string' } },
});
const app = resolve(import.meta.dirname, '..');
const outDir = resolve(app, 'test-output/bench-site');
const configFile = resolve(app, 'vite.config.ts');
// Unminified: tfjs wasm's threaded build does not start from a minified bundle (see src/bench.ts).
await build({ configFile, logLevel: 'warn', build: { outDir, minify: false } });
const server = await preview({ configFile, logLevel: 'warn', build: { outDir }, preview: { port: 0 } });
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
  protocolTimeout: 30 * 60_000,
});
try {
  const page = await browser.newPage();
  page.on('console', (m) => m.type() === 'error' && process.stderr.write(`page: ${m.text()}\n`));
  const query = new URLSearchParams({ run: '' });
  if (values.quick) query.set('quick', '');
  if (values.only) query.set('only', values.only);
  if (values.threads) query.set('threads', values.threads);
  await page.goto(`${server.resolvedUrls.local[0]}bench.html?${query}`);
  let last = '';
  while (!(await page.$('#bench-status[data-done]'))) {
    const now = await page.$eval('#bench-status', (e) => e.textContent);
    if (now !== last) process.stderr.write(`${(last = now)}\n`);
    await sleep(500);
  }
  const results = JSON.parse(await page.$eval('#bench-results', (e) => e.dataset.results));
  const ua = await browser.version();
  process.stdout.write(`${ua}, ${values.quick ? 'quick' : 'full'} char-LSTM workload\n`);
  for (const r of results)
    process.stdout.write(
      `${r.name.padEnd(22)} ${r.backend.padEnd(28)} ${r.medianMs === undefined ? r.error : `${r.medianMs.toFixed(0)} ms/step (${r.steps} steps)`}\n`,
    );
} finally {
  await browser.close();
  server.httpServer.close();
}
