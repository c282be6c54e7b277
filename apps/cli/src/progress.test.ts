// The progress bar redraws in place on a TTY and falls back to plain lines otherwise.
import { describe, expect, test } from 'vitest';
import type { TrainEvent } from '@ganglion/core';
import { JsonProgress, TextProgress } from './progress.js';

const batch = (step: number, elapsed: number): TrainEvent => ({
  type: 'batch',
  epoch: 0,
  step,
  loss: 2 - step / 10,
  gradNorm: 1,
  lr: 1e-3,
  tokensPerSecond: 1000,
  elapsed,
});

function sink(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 200, write: (s: string) => writes.push(s) } };
}

describe('TextProgress', () => {
  test('on a TTY: one line, redrawn in place with carriage return and clear-line', () => {
    const { writes, stream } = sink(true);
    const p = new TextProgress(stream, { steps: 4 });
    for (let i = 1; i <= 4; i++) p.event(batch(i, i));
    p.event({ type: 'done', steps: 4, seconds: 4, reason: 'steps' });
    expect(writes.slice(0, 4).every((w) => w.startsWith('\r\x1b[K') && !w.includes('\n'))).toBe(true);
    expect(writes[3]).toMatch(/step 4\/4 \[=+>\] 100% \| loss 1\.600 \| 1,000 tok\/s \| ETA 0s/);
    expect(writes[4]).toBe('\r\x1b[K'); // the bar is cleared before a message line
    expect(writes[5]).toBe('done: 4 steps in 4s\n');
  });

  test('not a TTY: plain lines, at most one every few seconds, and the last step', () => {
    const { writes, stream } = sink(false);
    const p = new TextProgress(stream, { steps: 10 }, 5);
    for (let i = 1; i <= 10; i++) p.event(batch(i, i));
    expect(writes.some((w) => w.includes('\r'))).toBe(false);
    expect(writes.map((w) => /step (\d+)/.exec(w)![1])).toEqual(['5', '10']);
    expect(writes.every((w) => w.endsWith('\n'))).toBe(true);
  });
});

describe('JsonProgress', () => {
  test('one JSON object per line with the documented fields', () => {
    const lines: string[] = [];
    const p = new JsonProgress((l) => lines.push(l));
    p.event(batch(1, 0.5));
    p.event({ type: 'epoch', epoch: 0, step: 1, trainLoss: 2, valLoss: Math.LN2 * 3, partial: true, elapsed: 1 });
    p.event({ type: 'checkpoint', step: 1, path: '/tmp/x' });
    p.event({ type: 'done', steps: 1, seconds: 1.234, valLoss: Math.LN2 * 3, reason: 'steps' });
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { event: 'batch', step: 1, loss: 1.9, gradNorm: 1, lr: 1e-3, tokensPerSecond: 1000 },
      { event: 'epoch', epoch: 0, valLoss: Math.LN2 * 3, valBitsPerChar: 3 },
      { event: 'checkpoint', step: 1, path: '/tmp/x' },
      { event: 'done', steps: 1, reason: 'steps', seconds: 1.23, valLoss: Math.LN2 * 3, valBitsPerChar: 3 },
    ]);
  });

  test('bits per character divide nats per token by the characters per token (BPE: several)', () => {
    const lines: string[] = [];
    const p = new JsonProgress((l) => lines.push(l));
    p.charactersPerToken(4);
    p.event({ type: 'epoch', epoch: 0, step: 1, trainLoss: 2, valLoss: 2, partial: true, elapsed: 1 });
    // 2 nats per token over 4 characters: 0.5 nats, 0.5 / ln 2 bits per character.
    expect(JSON.parse(lines[0]).valBitsPerChar).toBeCloseTo(0.5 / Math.log(2), 12);
  });
});
