// A contender with a char-LSTM model only is not run on a GPT workload, and says so; nothing is
// started for it.
import { describe, expect, test } from 'vitest';
import { CONTENDERS } from './contenders.js';
import { runContender } from './run-contender.js';
import { GPT_WORKLOADS } from './workload.js';

describe('runContender on a GPT workload', () => {
  test('char-LSTM-only contenders are "not run: char-lstm only"; ganglion-onnx and pytorch take GPTs', async () => {
    const lstmOnly = CONTENDERS.filter((c) => !['ganglion-onnx', 'pytorch'].includes(c.name));
    expect(lstmOnly.map((c) => c.name)).toEqual([
      'ganglion-tfjs',
      'ganglion-tfjs-wasm',
      'ganglion-reference',
      'ganglion-onnx-export',
      'tfjs-layers-cpu',
      'tfjs-layers-wasm',
      'ort-pytorch',
    ]);
    for (const c of lstmOnly) {
      const r = await runContender(c, GPT_WORKLOADS['gpt-0.8m'], { timeoutMs: 1000 });
      expect([r.name, r.status, r.reason, r.wallSeconds]).toEqual([c.name, 'unavailable', 'char-lstm only', null]);
    }
    for (const name of ['ganglion-onnx', 'pytorch'])
      expect(CONTENDERS.find((c) => c.name === name)?.workloads).toContain('gpt');
  });
});
