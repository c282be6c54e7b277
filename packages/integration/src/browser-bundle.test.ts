// The browser-clean packages bundle for a browser: esbuild (platform 'browser', from the
// TypeScript sources) bundles each entry with everything it imports, its npm dependencies
// included, and the test fails on an import of a Node built-in (`node:fs`, `fs`, `path`, …),
// naming the module and the file that imports it: any import from Ganglion's own code, and a
// static `import` from a dependency. A dependency's `require('fs')` is left alone: it is
// CommonJS or Emscripten code that calls it only when it runs on Node (tfjs's wasm loader,
// seedrandom), and browser bundlers replace it with an empty module. A Node-only entry
// (`@ganglion/core/node`) is bundled the same way, as a check that the test can fail.
import { builtinModules } from 'node:module';
import { build, type Plugin } from 'esbuild';
import { describe, expect, it } from 'vitest';

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** The Node built-ins `entry` reaches, each with the file that imports it (relative to the repo). */
async function nodeImports(entry: string): Promise<string[]> {
  const found: string[] = [];
  const detect: Plugin = {
    name: 'node-builtins',
    setup(b) {
      b.onResolve({ filter: /^[a-z_:/]+$/ }, (args) => {
        if (!BUILTINS.has(args.path) && !args.path.startsWith('node:')) return undefined;
        const from = args.importer.replace(/^.*?\/(packages|apps|node_modules)\//, '$1/');
        const guarded = from.startsWith('node_modules/') && args.kind === 'require-call';
        if (!guarded) found.push(`${args.path} (imported by ${from})`);
        return { path: args.path, external: true };
      });
    },
  };
  await build({
    stdin: { contents: `export * from '${entry}';`, resolveDir: import.meta.dirname, loader: 'ts' },
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    conditions: ['@ganglion/source'],
    logLevel: 'silent',
    plugins: [detect],
  });
  return [...new Set(found)];
}

describe('browser bundles', () => {
  it.each(['@ganglion/core', '@ganglion/layers', '@ganglion/backend-tfjs', '@ganglion/backend-onnx', '@ganglion/text'])(
    '%s imports no Node built-in',
    async (entry) => {
      expect(await nodeImports(entry), `${entry} reaches Node built-ins`).toEqual([]);
    },
  );

  it('finds the Node built-ins of a Node-only entry, naming the file', async () => {
    const found = await nodeImports('@ganglion/core/node');
    expect(found).toContain('node:fs/promises (imported by packages/core/src/node/checkpoint-dir.ts)');
  });
});
