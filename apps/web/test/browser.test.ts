// The page in a real browser: build the site, serve it on 127.0.0.1, drive Debian's Chromium
// headless through puppeteer-core. Bad files give a visible message; 20 training steps on a pasted
// text lower the loss, on onnxruntime-web's plain wasm binary; the inspector has a gradient norm
// for every node with parameters (as the downloaded weights list them); generation prints text; and
// the downloaded checkpoint, put in a folder, makes the CLI (`ganglion generate --temperature 0`)
// print the page's greedy text; the same for a GPT over a BPE tokenizer the page learns from the
// text. The WebGPU engine (on SwiftShader) gives wasm's losses, and without an adapter it is a
// message; after a reload the model the page kept in IndexedDB comes back.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { GraphBuilder, ParamStore, ReferenceBackend, checkpointFiles, decodeSafetensors } from '@ganglion/core';
import { Dense, MSE } from '@ganglion/layers';
import puppeteer, { type Browser, type CDPSession, type Page } from 'puppeteer-core';
import { type PreviewServer, build, preview } from 'vite';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const run = promisify(execFile);
const APP = resolve(import.meta.dirname, '..');
const OUT = join(APP, 'test-output');
const SITE = join(OUT, 'site');
const DOWNLOADS = join(OUT, 'downloads');
const ONNX_DOWNLOADS = join(OUT, 'onnx');
const BPE_DOWNLOADS = join(OUT, 'bpe');
const CLI = resolve(APP, '../cli/bin/ganglion.js');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// A text with enough repetition for 20 steps to show: seeded, so the run is the same every time.
function corpus(): string {
  const words = ['the', 'whale', 'sea', 'ship', 'captain', 'white', 'and', 'of', 'a', 'to', 'in', 'boat'];
  let state = 7;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
  const sentences: string[] = [];
  for (let i = 0; i < 160; i++) {
    const n = 4 + (next() % 6);
    const s = Array.from({ length: n }, () => words[next() % words.length]).join(' ');
    sentences.push(`${s[0].toUpperCase()}${s.slice(1)}.`);
  }
  return sentences.join(' ');
}

let server: PreviewServer;
let browser: Browser;
let page: Page;
let cdp: CDPSession;
const consoleErrors: string[] = [];
/** The file names of the .wasm binaries the page fetched, in order. */
const wasmFetched: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH to one`);
  await rm(OUT, { recursive: true, force: true });
  await mkdir(DOWNLOADS, { recursive: true });
  await mkdir(ONNX_DOWNLOADS, { recursive: true });
  await mkdir(BPE_DOWNLOADS, { recursive: true });
  const configFile = join(APP, 'vite.config.ts');
  await build({ configFile, logLevel: 'warn', build: { outDir: SITE } });
  server = await preview({
    configFile,
    logLevel: 'warn',
    build: { outDir: SITE },
    preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false },
  });
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // WebGPU on SwiftShader, Chromium's software Vulkan: no GPU needed, so the WebGPU engine is tested here.
    args: [
      '--no-sandbox',
      '--disable-dev-shm-usage',
      '--enable-unsafe-webgpu',
      '--enable-unsafe-swiftshader',
      '--use-webgpu-adapter=swiftshader',
      '--enable-features=Vulkan',
    ],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1000 });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.endsWith('.wasm')) wasmFetched.push(path.slice(path.lastIndexOf('/') + 1));
  });
  cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: DOWNLOADS });
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite preview did not report a URL');
  await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
});

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((done) => (server ? server.httpServer.close(() => done()) : done()));
});

const errorText = () => page.$eval('#error', (e) => ((e as HTMLElement).hidden ? '' : (e.textContent ?? '')));

async function pick(name: string, bytes: Uint8Array): Promise<void> {
  const path = join(OUT, name);
  await writeFile(path, bytes);
  const input = await page.$('input#file');
  await page.$eval('#error', (e) => ((e as HTMLElement).hidden = true));
  await input!.uploadFile(path);
  await page.waitForFunction(() => !(document.getElementById('error') as HTMLElement).hidden, { timeout: 10_000 });
}

async function loadCheckpoint(dir: string, names: readonly string[]): Promise<void> {
  const input = await page.$('input#load-checkpoint');
  await page.$eval('#status', (e) => (e.textContent = ''));
  await page.$eval('#error', (e) => ((e as HTMLElement).hidden = true));
  await input!.uploadFile(...names.map((n) => join(dir, n)));
  await page.waitForFunction(
    () =>
      !(document.getElementById('error') as HTMLElement).hidden ||
      document.getElementById('status')!.textContent!.startsWith('loaded'),
    { timeout: 30_000 },
  );
}

/** Wait until `names` are downloaded into `dir`, complete. */
async function downloaded(dir: string, names: readonly string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!names.every((n) => existsSync(join(dir, n))) || (await readdir(dir)).some((f) => f.endsWith('.crdownload'))) {
    if (Date.now() > deadline)
      throw new Error(`downloads missing from ${dir}: it holds ${(await readdir(dir)).join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function setValue(selector: string, value: string): Promise<void> {
  await page.$eval(
    selector,
    (e, v) => {
      (e as HTMLInputElement).value = v;
      e.dispatchEvent(new Event(e.tagName === 'SELECT' ? 'change' : 'input', { bubbles: true }));
    },
    value,
  );
}

/** Train a new model (not continuing the current one) with these settings: start the run. */
async function startNew(engine: string, preset: string, seqLen: number, batch: number, steps?: number): Promise<void> {
  await page.$eval('#continue', (e) => ((e as HTMLInputElement).checked = false));
  await setValue('#engine', engine);
  await setValue('#preset', preset);
  if (steps !== undefined) await setValue('#steps', String(steps));
  await setValue('#seq-len', String(seqLen));
  await setValue('#batch', String(batch));
  await page.$eval('#status', (e) => {
    delete (e as HTMLElement).dataset.done;
    (e as HTMLElement).dataset.step = '0';
  });
  await page.click('#train');
}

/** Wait for the run to end with no message in the page; the losses the chart drew. */
async function finished(timeout: number): Promise<number[]> {
  await page.waitForSelector('#status[data-done]', { timeout });
  expect(await errorText()).toBe('');
  return JSON.parse(await page.$eval('#loss-chart', (e) => (e as SVGElement).dataset.losses ?? '[]')) as number[];
}

/** The same losses, step by step, within 1e-4 relative. */
function expectSameLosses(losses: readonly number[], expected: readonly number[]): void {
  expect(losses).toHaveLength(expected.length);
  losses.forEach((l, i) => expect(Math.abs(l - expected[i])).toBeLessThan(1e-4 * Math.abs(expected[i]) + 1e-5));
}

async function generate(button: string): Promise<string> {
  await page.$eval('#generated', (e) => delete (e as HTMLElement).dataset.text);
  // A click in the page, not at the button's coordinates: during training the layout may shift.
  await page.$eval(button, (b) => (b as HTMLButtonElement).click());
  await page.waitForFunction(
    () =>
      (document.getElementById('generated') as HTMLElement).dataset.text !== undefined ||
      !(document.getElementById('error') as HTMLElement).hidden,
    { timeout: 60_000 },
  );
  const error = await errorText();
  if (error) throw new Error(`the page says: ${error}`);
  return page.$eval('#generated', (e) => (e as HTMLElement).dataset.text ?? '');
}

describe('the page in Chromium', () => {
  const text = corpus();
  const prompt = text.slice(0, 12);
  let greedy = '';

  test('loads without console errors', () => {
    expect(consoleErrors).toEqual([]);
  });

  test('an empty, a binary or a too-large file is refused with a message in the page', async () => {
    await pick('empty.txt', new Uint8Array());
    expect(await errorText()).toMatch(/^empty\.txt is empty/);
    await pick('binary.bin', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0x0d, 0xff, 0xfe]));
    expect(await errorText()).toMatch(/^binary\.bin is not UTF-8 text/);
    await pick('large.txt', new Uint8Array(33 * 1024 * 1024).fill(0x61));
    expect(await errorText()).toMatch(/^large\.txt is 33\.0 MB; the page trains on at most 32\.0 MB of text/);
    await rm(join(OUT, 'large.txt'));
    await page.screenshot({ path: join(OUT, 'screenshot-bad-input.png') });
  });

  let ortLosses: number[] = [];
  let bpeGreedy = '';

  test('20 steps on a pasted text lower the loss (onnxruntime-web), and the inspector shows every parameterized node', async () => {
    await setValue('#text', text);
    await startNew('ort-web', 'char-lstm-small', 32, 16, 20);
    const losses = await finished(120_000);
    expect(losses).toHaveLength(20);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[19]).toBeLessThan(losses[0]);
    ortLosses = losses;
    await page.screenshot({ path: join(OUT, 'screenshot-after-training.png'), fullPage: true });
    // The wasm engine runs on onnxruntime-web's plain wasm binary, not the WebGPU-capable one of
    // its default build (JSEP), which ran the char-LSTM step 2.6 times slower (docs/benchmarks.md).
    const ort = wasmFetched.filter((f) => f.startsWith('ort-wasm'));
    expect(ort.length).toBeGreaterThan(0);
    expect(ort.filter((f) => /\.(jsep|asyncify|jspi)/.test(f))).toEqual([]);
  });

  test('generation prints text, greedy and sampled', async () => {
    await setValue('#prompt', prompt);
    await setValue('#length', '60');
    greedy = await generate('#generate-greedy');
    expect(greedy.length).toBeGreaterThan(0);
    expect(await page.$eval('#generated', (e) => e.textContent)).toBe(prompt + greedy);
    expect((await generate('#generate-sampled')).length).toBeGreaterThan(0);
    expect(await errorText()).toBe('');
    await page.screenshot({ path: join(OUT, 'screenshot-after-generation.png'), fullPage: true });
  });

  test('the downloaded checkpoint runs in the CLI and gives the page greedy text; its weights name the inspected nodes', async () => {
    await page.click('#download-checkpoint');
    await page.waitForSelector('#checkpoint-files a[download]', { timeout: 30_000 });
    const names = await page.$$eval('#checkpoint-files a[download]', (as) =>
      as.map((a) => (a as HTMLAnchorElement).download),
    );
    expect(names).toEqual(expect.arrayContaining(['graph.json', 'meta.json', 'weights.safetensors']));
    await downloaded(DOWNLOADS, names);
    // The nodes with parameters, as the checkpoint's weights name them (`<node>.<param>`).
    const weights = decodeSafetensors(
      new Uint8Array(await readFile(join(DOWNLOADS, 'weights.safetensors'))),
      'weights.safetensors',
    );
    const withParams = [...new Set([...weights.tensors.keys()].map((k) => k.slice(0, k.lastIndexOf('.'))))].sort();
    const inspected = await page.$$eval('#inspector tr[data-grad-norm]', (rows) =>
      rows.map((r) => ({ node: (r as HTMLElement).dataset.node!, norm: Number((r as HTMLElement).dataset.gradNorm) })),
    );
    expect(inspected.map((r) => r.node).sort()).toEqual(withParams);
    for (const r of inspected) expect(r.norm).toBeGreaterThan(0);

    const { stdout } = await run(
      process.execPath,
      [CLI, 'generate', DOWNLOADS, '--temperature', '0', '--prompt', prompt, '--max-tokens', '60'],
      { timeout: 60_000 },
    );
    expect(stdout).toBe(`${prompt}${greedy}\n`);
  });

  test('the downloaded ONNX export runs in `ganglion run` and gives the page greedy text', async () => {
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: ONNX_DOWNLOADS });
    await page.click('#download-onnx');
    await downloaded(ONNX_DOWNLOADS, ['model.onnx']);
    const { stdout } = await run(
      process.execPath,
      [CLI, 'run', join(ONNX_DOWNLOADS, 'model.onnx'), '--temperature', '0', '--prompt', prompt, '--max-tokens', '60'],
      { timeout: 60_000 },
    );
    expect(stdout).toBe(`${prompt}${greedy}\n`);
  });

  test('the downloaded checkpoint loads back into the page and generates the same greedy text', async () => {
    await setValue('#preset', 'char-gpt'); // the checkpoint, not the preset picked, decides the model
    await loadCheckpoint(DOWNLOADS, await readdir(DOWNLOADS));
    expect(await errorText()).toBe('');
    expect(await page.$eval('#status', (e) => e.textContent)).toMatch(
      /^loaded a char-lstm-small checkpoint at step 20/,
    );
    expect(await generate('#generate-greedy')).toBe(greedy);
  });

  test('a checkpoint of another kind of model is refused with a message, and the page stays usable', async () => {
    // A regression model (Dense + MSE, no tokenizer), saved by core's own checkpointFiles.
    const g = new GraphBuilder();
    const x = g.input('x', ['batch', 4]);
    const target = g.input('target', ['batch', 2]);
    const y = g.node('out', new Dense({ units: 2 }), x);
    g.output('y', y);
    g.output('loss', g.node('loss', new MSE(), { prediction: y, target }));
    const graph = g.build();
    const files = checkpointFiles({
      graph,
      params: ParamStore.initialize(graph, 0, new ReferenceBackend()),
      meta: { step: 0, epoch: 0 },
    });
    const dir = join(OUT, 'regression');
    await mkdir(dir, { recursive: true });
    for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
    await loadCheckpoint(dir, Object.keys(files));
    expect(await errorText()).toMatch(/graph\.json: the graph has no "ids" input; this is another kind of model/);
    await page.screenshot({ path: join(OUT, 'screenshot-other-model.png') });
    // Still usable: the model loaded before generates as it did.
    expect(await generate('#generate-greedy')).toBe(greedy);
  });

  test('the same 20 steps run eagerly on TF.js give the same losses as on onnxruntime-web, with text generated during training', async () => {
    await startNew('tfjs', 'char-lstm-small', 32, 16);
    // Generation while training runs: the page answers between steps, and training goes on unchanged.
    await page.waitForFunction(() => Number(document.getElementById('status')!.dataset.step) >= 5, { timeout: 60_000 });
    expect(await page.$('#status[data-done]')).toBeNull();
    expect((await generate('#generate-sampled')).length).toBeGreaterThan(0);
    expectSameLosses(await finished(120_000), ortLosses);
    await page.screenshot({ path: join(OUT, 'screenshot-after-training-tfjs.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  });

  test("the same 20 steps on onnxruntime-web's WebGPU execution provider (Chromium's SwiftShader adapter here) give wasm's losses", async () => {
    expect(await page.$eval('#engine option[value="ort-webgpu"]', (o) => (o as HTMLOptionElement).disabled)).toBe(
      false,
    );
    await startNew('ort-webgpu', 'char-lstm-small', 32, 16);
    expectSameLosses(await finished(300_000), ortLosses);
    expect(consoleErrors).toEqual([]);
  });

  test('bpe-gpt: a BPE tokenizer learned from the text, a GPT trained on onnxruntime-web, and the CLI generates its greedy text', async () => {
    await startNew('ort-web', 'bpe-gpt', 32, 4, 10);
    const losses = await finished(180_000);
    expect(await page.$eval('#status', (e) => e.textContent)).toMatch(/bpe-gpt on .* \d+ bpe tokens\)/);
    expect(losses).toHaveLength(10);
    expect(losses[9]).toBeLessThan(losses[0]);
    await setValue('#length', '20');
    bpeGreedy = await generate('#generate-greedy');
    expect(bpeGreedy.length).toBeGreaterThan(0);
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: BPE_DOWNLOADS });
    await page.click('#download-checkpoint');
    await page.waitForSelector('#checkpoint-files a[download]', { timeout: 30_000 });
    const names = await page.$$eval('#checkpoint-files a[download]', (as) =>
      as.map((a) => (a as HTMLAnchorElement).download),
    );
    await downloaded(BPE_DOWNLOADS, names);
    // The tokenizer the page learned is a Hugging Face tokenizer.json of a byte-level BPE.
    const tokenizer = JSON.parse(await readFile(join(BPE_DOWNLOADS, 'tokenizer.json'), 'utf8')) as {
      model?: { type?: string };
    };
    expect(tokenizer.model?.type).toBe('BPE');
    const { stdout } = await run(
      process.execPath,
      [CLI, 'generate', BPE_DOWNLOADS, '--temperature', '0', '--prompt', prompt, '--max-tokens', '20'],
      { timeout: 60_000 },
    );
    expect(stdout).toBe(`${prompt}${bpeGreedy}\n`);
    await page.screenshot({ path: join(OUT, 'screenshot-after-training-bpe-gpt.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  }, 240_000);

  test('after a reload the page restores the model it kept in this browser, and generates the same greedy text; Forget deletes it', async () => {
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    expect(await page.$eval('#saved-model', (e) => (e as HTMLElement).hidden)).toBe(false);
    expect(await page.$eval('#saved-model-note', (e) => e.textContent)).toMatch(/bpe-gpt, step 10,/);
    await page.$eval('#status', (e) => (e.textContent = ''));
    await page.click('#restore-model');
    await page.waitForFunction(() => document.getElementById('status')!.textContent!.startsWith('loaded'), {
      timeout: 30_000,
    });
    await setValue('#prompt', prompt);
    await setValue('#length', '20');
    expect(await generate('#generate-greedy')).toBe(bpeGreedy);
    await page.screenshot({ path: join(OUT, 'screenshot-after-restore.png'), fullPage: true });
    await page.click('#forget-model');
    await page.waitForFunction(() => (document.getElementById('saved-model') as HTMLElement).hidden, {
      timeout: 10_000,
    });
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    expect(await page.$eval('#saved-model', (e) => (e as HTMLElement).hidden)).toBe(true);
    expect(await errorText()).toBe('');
    expect(consoleErrors).toEqual([]);
  });
});

describe('the page in a Chromium without a WebGPU adapter (default flags)', () => {
  test('choosing the WebGPU engine gives a message in the page, and the page stays usable', async () => {
    const plain = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    try {
      const tab = await plain.newPage();
      await tab.goto(server.resolvedUrls!.local[0], { waitUntil: 'load', timeout: 60_000 });
      await tab.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      await tab.$eval(
        '#text',
        (e, v) => {
          (e as HTMLTextAreaElement).value = v;
          e.dispatchEvent(new Event('input', { bubbles: true }));
        },
        corpus(),
      );
      await tab.select('#engine', 'ort-webgpu');
      await tab.$eval('#steps', (e) => ((e as HTMLInputElement).value = '2'));
      await tab.click('#train');
      await tab.waitForFunction(() => !(document.getElementById('error') as HTMLElement).hidden, { timeout: 60_000 });
      expect(await tab.$eval('#error', (e) => e.textContent)).toBe(
        'this browser offers WebGPU but no adapter for it; choose the wasm engine',
      );
      expect(await tab.$eval('#train', (e) => e.textContent)).toBe('Train');
      // Still usable: the wasm engine trains the same model.
      await tab.select('#engine', 'ort-web');
      await tab.click('#train');
      await tab.waitForSelector('#status[data-done]', { timeout: 60_000 });
      expect(await tab.$eval('#error', (e) => (e as HTMLElement).hidden)).toBe(true);
      expect(await tab.$eval('#status', (e) => (e as HTMLElement).dataset.step)).toBe('2');
    } finally {
      await plain.close();
    }
  });
});
