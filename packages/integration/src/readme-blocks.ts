// Reads the fenced code blocks of a Markdown file, so readme.test.ts can run the README's TypeScript
// examples and check its `ganglion …` command lines against the CLI's help. A block may be preceded
// by HTML comments that say how to treat it:
//   <!-- readme-test: skip (why) -->   not runnable on its own (a fragment); the reason is required
//   <!-- readme-test: continues -->    runs in the same module as the TypeScript block before it (which
//                                      must not be skipped); later imports are hoisted, as in any module
// Markdown renders neither comment.

/** One fenced block: its language tag, its text, the line of its first code line (1-based). */
export interface CodeBlock {
  readonly lang: string;
  readonly code: string;
  readonly line: number;
  readonly directives: readonly string[];
}

const DIRECTIVE = /^<!--\s*readme-test:\s*(.*?)\s*-->$/;

export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    // The comments right above the fence; blank lines between them are allowed (Prettier adds one).
    const directives: string[] = [];
    for (let j = i - 1; j >= 0; j--) {
      const text = lines[j].trim();
      const directive = DIRECTIVE.exec(text);
      if (directive) directives.unshift(directive[1]);
      else if (text !== '') break;
    }
    let end = i + 1;
    while (end < lines.length && !lines[end].startsWith(open[1])) end++;
    blocks.push({ lang: open[2], code: lines.slice(i + 1, end).join('\n'), line: i + 2, directives });
    i = end;
  }
  return blocks;
}

/** TypeScript blocks joined with their continuations: one module each. `lines[k]` is the README line of the module's line k + 1. */
export interface Example {
  readonly line: number;
  readonly code: string;
  readonly lines: readonly number[];
}

export interface Skipped {
  readonly line: number;
  readonly reason: string | undefined;
}

export function typescriptExamples(blocks: readonly CodeBlock[]): { examples: Example[]; skipped: Skipped[] } {
  const examples: { line: number; code: string[]; lines: number[] }[] = [];
  const skipped: Skipped[] = [];
  let previous: (typeof examples)[number] | undefined;
  for (const b of blocks) {
    if (b.lang !== 'ts' && b.lang !== 'typescript') continue;
    const skip = b.directives.find((d) => d.startsWith('skip'));
    if (skip !== undefined) {
      skipped.push({ line: b.line, reason: /^skip\s*\((.+)\)$/.exec(skip)?.[1] });
      previous = undefined;
      continue;
    }
    const code = b.code.split('\n');
    const lines = code.map((_, k) => b.line + k);
    if (b.directives.includes('continues')) {
      if (!previous) throw new Error(`README line ${b.line}: "continues" follows no runnable TypeScript block`);
      previous.code.push(...code);
      previous.lines.push(...lines);
    } else {
      previous = { line: b.line, code, lines };
      examples.push(previous);
    }
  }
  return { examples: examples.map((e) => ({ line: e.line, code: e.code.join('\n') + '\n', lines: e.lines })), skipped };
}

/** A `ganglion <command> …` line of a shell (or untagged) block, with the flags it uses. */
export interface CliLine {
  readonly line: number;
  readonly command: string;
  readonly flags: readonly string[];
}

export function cliLines(blocks: readonly CodeBlock[]): CliLine[] {
  const found: { line: number; command: string; text: string }[] = [];
  for (const b of blocks) {
    if (!['sh', 'bash', 'shell', 'console', ''].includes(b.lang)) continue;
    b.code.split('\n').forEach((text, k) => {
      const m = /^(?:\$\s*)?(?:npx\s+)?ganglion\s+([a-z][\w-]*)(.*)$/.exec(text.trim());
      if (m) found.push({ line: b.line + k, command: m[1], text: m[2] });
      // An untagged synopsis block continues a command on indented lines.
      else if (b.lang === '' && /^\s+\[/.test(text) && found.length) found[found.length - 1].text += ' ' + text;
    });
  }
  return found.map(({ line, command, text }) => ({
    line,
    command,
    flags: [...new Set(text.replace(/#.*$/, '').match(/(?<![\w-])--[a-z][a-z0-9-]*/g) ?? [])],
  }));
}
