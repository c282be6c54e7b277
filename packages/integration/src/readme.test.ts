// The README cannot drift from the code: every ```ts block is extracted, type-checked and run as
// written (a block that throws, or does not compile, fails here with its README line), the Highway
// layer it shows is gradient-checked, and every `ganglion <command> --flag` it mentions must appear in
// that command's --help. Blocks are written to packages/integration/.readme-blocks/ (git-ignored).
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test, vi } from 'vitest';
import type { Layer } from '@ganglion/core';
import { checkLayerGradients } from '@ganglion/layers/testing';
import { type Example, cliLines, codeBlocks, typescriptExamples } from './readme-blocks.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const outDir = resolve(here, '../.readme-blocks');
const blocks = codeBlocks(readFileSync(join(root, 'README.md'), 'utf8'));
const { examples, skipped } = typescriptExamples(blocks);
const fileOf = (e: Example) => join(outDir, `readme-line-${e.line}.ts`);

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, '.gitignore'), '*\n');
writeFileSync(join(outDir, 'tsconfig.json'), JSON.stringify({ extends: '../tsconfig.json', include: ['*.ts'] }));
for (const e of examples) writeFileSync(fileOf(e), e.code);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

/** Rewrite "readme-line-63.ts:14:5" in an error to the README line it came from. */
function readmeLine(e: Example, err: unknown): string {
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  const at = new RegExp(`readme-line-${e.line}\\.ts:(\\d+)`).exec(text);
  return at ? `README.md:${e.lines[Number(at[1]) - 1] ?? '?'}` : `README.md block at line ${e.line}`;
}

describe('README TypeScript blocks', () => {
  test('there are examples, and each skipped block says why (at most 3)', () => {
    expect(examples.length).toBeGreaterThanOrEqual(3);
    expect(skipped.filter((s) => !s.reason).map((s) => `README.md:${s.line}`)).toEqual([]);
    expect(skipped.length).toBeLessThanOrEqual(3);
  });

  test('they type-check', async () => {
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const out = await run(
      process.execPath,
      [tsc, '-p', join(outDir, 'tsconfig.json'), '--noEmit', '--pretty', 'false'],
      { cwd: outDir },
    ).then(
      () => '',
      (err: { stdout?: string }) => err.stdout ?? String(err),
    );
    const errors = out
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const m = /^readme-line-(\d+)\.ts\((\d+),\d+\): (.*)$/.exec(l);
        const e = m && examples.find((x) => x.line === Number(m[1]));
        return e ? `README.md:${e.lines[Number(m[2]) - 1]}: ${m[3]}` : l;
      });
    expect(errors).toEqual([]);
  }, 120_000);

  test.each(examples.map((e) => [`README.md:${e.line}`, e] as const))('%s runs without throwing', async (_, e) => {
    const log = vi.spyOn(console, 'log');
    let printed: string[];
    const started = performance.now();
    try {
      await import(fileOf(e));
    } catch (err) {
      throw new Error(`${readmeLine(e, err)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    } finally {
      printed = log.mock.calls.map((args) => args.map(String).join(' '));
      log.mockRestore();
    }
    expect(performance.now() - started, 'a README example must run in under 10 s').toBeLessThan(10_000);
    // The XOR example prints its predictions last: the README promises they are close to [0, 1, 1, 0].
    if (e.code.includes('close to [0, 1, 1, 0]')) {
      const line = printed.find((p) => /^[-\d.e]+(,[-\d.e]+){3}$/.test(p));
      expect(line, 'the XOR example prints its 4 predictions').toBeDefined();
      const predictions = line!.split(',').map(Number);
      [0, 1, 1, 0].forEach((t, i) => expect(Math.abs(predictions[i] - t)).toBeLessThan(0.15));
    }
  });

  test('the Highway layer it shows has the gradients of its forward', async () => {
    const e = examples.find((x) => x.code.includes('export class Highway'));
    const { Highway } = (await import(fileOf(e!))) as { Highway: new (config: { gateBias?: number }) => Layer<object> };
    const checks = checkLayerGradients(new Highway({ gateBias: 0.3 }), { x: { shape: [3, 4] } });
    expect(checks.map((c) => c.what)).toEqual([
      'input x',
      'param layer.w_h',
      'param layer.b_h',
      'param layer.w_t',
      'param layer.b_t',
    ]);
    for (const c of checks) expect(c.relError, c.what).toBeLessThan(1e-6);
  });
});

describe('README command lines', () => {
  const commands = cliLines(blocks);
  const bin = join(root, 'apps/cli/bin/ganglion.js');

  test("every `ganglion <command> --flag` exists in that command's --help", async () => {
    expect(commands.length).toBeGreaterThanOrEqual(7);
    const names = [...new Set(commands.map((c) => c.command))];
    const help = new Map(
      await Promise.all(
        names.map(async (name) => {
          const r = await run(process.execPath, [bin, name, '--help'], { timeout: 60_000 }).catch(
            (err: { stdout?: string; stderr?: string; code?: number }) => err,
          );
          // The binary runs apps/cli/dist: a crash here usually means the CLI needs `npm run build`.
          const failed = 'code' in r && r.code !== 0 && r.code !== 2;
          const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
          return [name, failed ? `crashed (exit ${r.code}): ${text.trim().split('\n').at(-1)}` : text] as const;
        }),
      ),
    );
    const missing = commands.flatMap((c) => {
      const text = help.get(c.command)!;
      if (!text.includes(`ganglion ${c.command}`))
        return [`README.md:${c.line}: no command "ganglion ${c.command}" (its --help: ${text.split('\n')[0]})`];
      return c.flags
        .filter((f) => f !== '--help' && !new RegExp(`${f}(?![a-z0-9-])`).test(text))
        .map((f) => `README.md:${c.line}: ganglion ${c.command} has no ${f}`);
    });
    expect(missing).toEqual([]);
  }, 120_000);
});
