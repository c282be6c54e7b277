// Data parallel in one process, over the in-memory bus (link.ts's memoryHub), so the protocol is
// tested without a server: AllReduce against a float64 sum, the RankGroup's membership, liveness
// and agreement, and two ranks of dataParallelStepper against one CompiledTrainer on the whole
// batch (20 steps, Adam, active global-norm clipping): the same losses and weights within 1e-5, and
// bit-equal weights on both ranks; weights that drift apart stop both. The processes, the CLI and a
// real nats-server are tested in apps/cli/test/data-parallel.test.ts.
import { afterEach, describe, expect, test } from 'vitest';
import {
  type Batch,
  ReferenceBackend,
  Runtime,
  type Trainer,
  createTrainer,
  keep,
  tensor,
  uniformValues,
} from '@ganglion/core';
import { compileTrainStep } from '@ganglion/backend-onnx/node';
import { charLstm } from '@ganglion/layers';
import { AllReduce } from './all-reduce.js';
import { type DataParallelStepper, dataParallelStepper } from './data-parallel-stepper.js';
import { type Link, memoryHub } from './link.js';
import { type DistributedError, RankGroup } from './rank-group.js';

const backend = new ReferenceBackend();
const groups: RankGroup[] = [];
afterEach(async () => {
  for (const g of groups.splice(0)) await g.leave();
});

async function join(link: Link, rank: number, world: number, timeoutSeconds = 5, run = 'test'): Promise<RankGroup> {
  const g = await RankGroup.join(link, { run, rank, world, timeoutSeconds });
  groups.push(g);
  return g;
}

const failure = (g: RankGroup) => new Promise<DistributedError>((resolve) => g.onFailure(resolve));

/** A link that can fall silent (a process stopped with SIGSTOP, or cut off). */
function mutable(link: Link): Link & { mute(): void } {
  let muted = false;
  return { ...link, publish: (s, b) => (muted ? undefined : link.publish(s, b)), mute: () => (muted = true) };
}

describe('AllReduce', () => {
  test.each([
    [3, 10],
    [3, 2],
    [2, 1001],
    [2, 600_001],
  ])('%i ranks, %i values: the float64 sum in rank order, the same bits on every rank', async (world, n) => {
    const hub = memoryHub();
    const inputs = Array.from({ length: world }, (_, r) =>
      Float32Array.from(uniformValues(world * 1000 + n * 10 + r, n, -1, 1)),
    );
    const expected = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (const x of inputs) s += x[i];
      expected[i] = s;
    }
    const ranks = await Promise.all(inputs.map((_, r) => join(hub.link(), r, world)));
    const reducers = ranks.map((g) => new AllReduce(hub.link(), g));
    const data = inputs.map((x) => x.slice());
    for (const step of [1, 2]) {
      if (step === 2) data.forEach((d, r) => d.set(inputs[r]));
      await Promise.all(reducers.map((a, r) => a.sum(step, data[r])));
      for (const d of data) expect(Buffer.from(d.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    }
    expect(reducers[0].stats.calls).toBe(2);
    for (const a of reducers) a.close();
  });
});

describe('RankGroup', () => {
  test('two processes with one rank: both stop, naming the rank', async () => {
    const hub = memoryHub();
    const [a, b] = await Promise.all([join(hub.link(), 0, 2), join(hub.link(), 0, 2)]);
    const [ea, eb] = await Promise.all([failure(a), failure(b)]);
    expect(ea.message).toMatch(
      /^two processes claim rank 0: pid \d+ on .+ and pid \d+ on .+; give each process its own --rank$/,
    );
    expect(eb.message).toBe(ea.message);
  });

  test('a different --world, and a rank outside the world', async () => {
    const hub = memoryHub();
    const a = await join(hub.link(), 0, 2);
    await join(hub.link(), 1, 3);
    expect((await failure(a)).message).toBe('ranks disagree on --world: rank 0 has 2, rank 1 has 3');
    const hub2 = memoryHub();
    const c = await join(hub2.link(), 0, 2);
    await join(hub2.link(), 2, 3);
    expect((await failure(c)).message).toMatch(
      /^a process with --rank 2 \(pid \d+ on .+\) joined run "test" of --world 2: ranks are 0 to 1$/,
    );
  });

  test('agree: the same configuration passes; a different one fails every rank with one line', async () => {
    const hub = memoryHub();
    const [a, b] = await Promise.all([join(hub.link(), 0, 2), join(hub.link(), 1, 2)]);
    await Promise.all([a.agree({ graph: 'x', lr: '0.01' }), b.agree({ graph: 'x', lr: '0.01' })]);
    const hub2 = memoryHub();
    const [c, d] = await Promise.all([join(hub2.link(), 0, 2), join(hub2.link(), 1, 2)]);
    const results = await Promise.allSettled([
      c.agree({ graph: 'x', lr: '0.01' }),
      d.agree({ graph: 'x', lr: '0.02' }),
    ]);
    const messages = results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'agreed'));
    expect(messages[0]).toMatch(
      /^rank 1's lr \(0\.02\) differs from rank 0's \(0\.01\); config hash [0-9a-f]{12} vs [0-9a-f]{12}: /,
    );
    expect(messages[1]).toBe(messages[0]);
  });

  test('a rank that falls silent stops the others within the timeout; an error on one rank stops all', async () => {
    const hub = memoryHub();
    const link1 = mutable(hub.link());
    const [a, b] = await Promise.all([join(hub.link(), 0, 2, 0.4), join(link1, 1, 2, 0.4)]);
    expect(await Promise.all([a.exchange('hello', 1, 'x'), b.exchange('hello', 1, 'y')])).toEqual([
      ['x', 'y'],
      ['x', 'y'],
    ]);
    const t0 = performance.now();
    link1.mute();
    const e = await failure(a);
    const waited = (performance.now() - t0) / 1000;
    expect(e.message).toMatch(
      /^rank 1 \(pid \d+ on .+\) stopped answering: no heartbeat for 0\.\d s \(--timeout 0\.4\)$/,
    );
    expect(waited).toBeGreaterThanOrEqual(0.3);
    expect(waited).toBeLessThan(1.5);

    const hub2 = memoryHub();
    const [c, d] = await Promise.all([join(hub2.link(), 0, 3), join(hub2.link(), 1, 3), join(hub2.link(), 2, 3)]);
    d.fail('CheckpointError: disk full', false);
    expect((await failure(c)).message).toBe('rank 1 stopped: CheckpointError: disk full');
  });

  test('a rank that never comes fails the run, naming it', async () => {
    const a = await join(memoryHub().link(), 0, 2, 0.3);
    await expect(a.agree({ graph: 'x' })).rejects.toThrow(
      /^rank 1 did not join run "test" on the NATS server within --timeout 0\.3 s$/,
    );
  });
});

describe('dataParallelStepper', () => {
  const V = 13;
  const graph = charLstm(8, [16])(V);
  const rows = 4;
  const time = 6;
  const batches: Batch[] = Array.from({ length: 5 }, (_, k) => {
    const ids = Array.from(uniformValues(k + 1, rows * time), (u) => Math.floor(u * V));
    const labels = ids.map((_, i) => ids[(i + 1) % ids.length]);
    return {
      ids: keep(tensor(ids, [rows, time], 'int32', backend)),
      labels: keep(tensor(labels, [rows, time], 'int32', backend)),
    };
  });
  const trainer = (): Trainer =>
    createTrainer({
      optimizer: 'adam',
      lr: 2e-2,
      clipping: 'global-norm',
      clippingOptions: { maxNorm: 0.15 },
      backend,
    });
  const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  };

  test('2 ranks train what one process trains on the whole batch (20 steps, Adam, clipping)', async () => {
    // One process: the whole batch through the compiled step (fused: forward, backward, clip, Adam in one graph).
    const single = compileTrainStep(new Runtime(graph, { seed: 3, backend }), trainer());
    const singleLosses: number[] = [];
    const singleNorms: number[] = [];
    for (let s = 0; s < 20; s++) {
      const r = await single.step(batches[s % batches.length]);
      singleLosses.push(r.loss);
      singleNorms.push(r.gradNorm);
    }
    // Two ranks over the memory bus, each a runtime from the same seed.
    const hub = memoryHub();
    const world = 2;
    const ranks = await Promise.all(
      Array.from({ length: world }, async (_, rank) => {
        const link = hub.link();
        const group = await join(link, rank, world);
        const runtime = new Runtime(graph, { seed: 3, backend });
        return { runtime, stepper: await dataParallelStepper(runtime, trainer(), { group, link, checkEvery: 5 }) };
      }),
    );
    expect(ranks[1].stepper.configHash).toBe(ranks[0].stepper.configHash);
    for (let s = 0; s < 20; s++) {
      const results = await Promise.all(ranks.map((r) => r.stepper.step(batches[s % batches.length])));
      for (const r of results) {
        expect(r.step).toBe(s + 1);
        expect(Math.abs(r.loss - singleLosses[s])).toBeLessThan(1e-5);
        expect(Math.abs(r.gradNorm - singleNorms[s]) / singleNorms[s]).toBeLessThan(1e-5);
      }
      expect(results[1].loss).toBe(results[0].loss);
    }
    expect(Math.min(...singleNorms)).toBeGreaterThan(0.15); // the clip was active at every step
    const want = single.paramStore(backend);
    const got = ranks.map((r) => r.stepper.compiled.paramStore(backend));
    for (const key of want.keys()) {
      expect(maxAbsDiff(got[0].get(key).dataSync(), want.get(key).dataSync())).toBeLessThan(1e-5);
      expect(Float32Array.from(got[1].get(key).dataSync())).toEqual(Float32Array.from(got[0].get(key).dataSync()));
    }
    const stats = ranks[0].stepper.stats();
    expect(stats.steps).toBe(19);
    expect(stats.floats).toBe(graph.paramCount() + 1);
    await Promise.all(ranks.map((r: { stepper: DataParallelStepper }) => r.stepper.close()));
    await single.dispose();
  });

  test('weights that drift apart on one rank stop both at the next check', async () => {
    const hub = memoryHub();
    const ranks = await Promise.all(
      [0, 1].map(async (rank) => {
        const link = hub.link();
        const group = await join(link, rank, 2);
        const runtime = new Runtime(graph, { seed: 3, backend });
        return dataParallelStepper(runtime, trainer(), { group, link, checkEvery: 3 });
      }),
    );
    // A rank whose hardware computes differently, simulated: one weight of rank 1 nudged in place.
    const held = (ranks[1].compiled as unknown as { params: Map<string, { data: Float32Array }> }).params;
    held.values().next().value!.data[0] += 1e-3;
    const steps = ranks.map(async (stepper) => {
      for (let s = 0; s < 3; s++) await stepper.step(batches[s]);
    });
    for (const r of await Promise.allSettled(steps)) {
      expect(r.status).toBe('rejected');
      expect(((r as PromiseRejectedResult).reason as Error).message).toMatch(
        /^after step 3 the weights differ between ranks \(sha256 rank 0 [0-9a-f]{12}, rank 1 [0-9a-f]{12}\): the ranks no longer train one model$/,
      );
    }
    await Promise.all(ranks.map((r) => r.close()));
  });
});
