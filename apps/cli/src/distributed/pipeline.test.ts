// Pipeline stages against single-process training. A small GPT (tied embeddings, so the embedding
// table crosses from the first stage to the last) is split into 3 stages with 2 micro-batches and
// trained 20 steps with Adam and global-norm clipping (active: the clip sees the global norm the
// stages assemble from their Σg²); every step's loss, and at the end every weight and Adam slot,
// must equal those of `Trainer.trainStep` on the whole batch in one process, within 1e-5. The
// stages run on the reference backend: in-process over a memory bus (the protocol alone), and as
// processes over a private nats-server. There, the driver's messages$ must show each stage's
// messages (micro-batch by micro-batch: rows joined, shares of batch-wide values summed, to equal
// one process's), and a stage killed with SIGKILL mid-step must stop every process within the
// timeout, with one line; afterwards no process of the run (stages, server) is left.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type Batch,
  type Graph,
  type Message,
  ReferenceBackend,
  Runtime,
  type Trainer,
  createTrainer,
  formatPortRef,
  tensor,
  tidy,
} from '@ganglion/core';
import { charLstm, gpt } from '@ganglion/layers';
import { memoryHub } from './link.js';
import { planPipeline } from './pipeline-plan.js';
import { type PipelineStepper, type StageCluster, pipelineStepper } from './pipeline-stepper.js';
import { cliStageHost } from './stage-host.js';
import { StageWorker } from './stage-worker.js';

const backend = new ReferenceBackend();
const graph = gpt({ dim: 8, heads: 2, blocks: 2, context: 4, position: 'learned' })(11);
const plugins = { optimizer: 'adam', clipping: 'global-norm', clippingOptions: { maxNorm: 0.5 } };
const LR = 1e-2;
const STEPS = 20;

function batches(n: number, rows = 4, time = 4): Batch[] {
  let state = 7; // a small LCG: the same token ids in every process
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const ids = () =>
    tensor(
      Array.from({ length: rows * time }, () => Math.floor(next() * 11)),
      [rows, time],
      'int32',
      backend,
    );
  return Array.from({ length: n }, () => ({ ids: ids(), labels: ids() }));
}

function trainer(): Trainer {
  return createTrainer({ ...plugins, lr: LR, backend });
}

/** Train on each batch in one process: the losses, the weights and the Adam slots. */
function singleProcess(model: Graph, data: Batch[]) {
  const runtime = new Runtime(model, { seed: 3, backend });
  const t = trainer();
  const losses = data.map((b) => t.trainStep(runtime, b).loss);
  return { runtime, trainer: t, losses, values: values(runtime, t) };
}

/** Every weight and optimizer slot, by name. */
function values(runtime: Runtime, t?: Trainer): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [k, v] of runtime.params.entries()) out.set(k, v.toArray());
  for (const [k, v] of t?.optimizer.getState().tensors ?? []) out.set(`slot.${k}`, v.toArray());
  return out;
}

function maxDifference(a: Map<string, number[]>, b: Map<string, number[]>): number {
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  let d = 0;
  for (const [k, x] of a) x.forEach((v, i) => (d = Math.max(d, Math.abs(v - b.get(k)![i]))));
  return d;
}

/** The pipeline's stages as StageWorkers in this process, on a memory bus. */
function memoryCluster(): StageCluster {
  const hub = memoryHub();
  const run = 'mem';
  const host = { ...cliStageHost, createBackend: async () => backend };
  return {
    link: hub.link(),
    run,
    where: 'the memory hub',
    start: (k) => ({ exited: new StageWorker(hub.link(), run, k, host).serve().then(() => 'stopped'), kill: () => {} }),
    close: async () => {},
  };
}

describe('planPipeline', () => {
  test('3 stages of a tied GPT: contiguous, balanced, and the tied table goes from the first stage to the last', () => {
    const plan = planPipeline(graph, { stages: 3 });
    const all = plan.stages.flatMap((s) => s.nodes);
    expect(all).toEqual(graph.subgraph(['loss']).nodes.map((n) => n.name));
    expect(plan.stages.map((s) => s.nodes.length).every((n) => n > 0)).toBe(true);
    const first = plan.stages[0];
    const weight = first.outputs.find((o) => formatPortRef(o.ref) === 'embed.weight');
    expect(weight?.to).toEqual([2]);
    expect(first.gradientsIn.find((g) => formatPortRef(g.ref) === 'embed.weight')?.from).toEqual([2]);
    expect(plan.stages[2].hasLoss).toBe(true);
  });

  test('a placement map whose edges run backward is one ConfigError naming the node and the port', () => {
    const placement = Object.fromEntries(graph.subgraph(['loss']).nodes.map((n) => [n.name, 1]));
    expect(() => planPipeline(graph, { placement: { ...placement, embed: 0, pos: 1, block1: 0 } })).toThrow(
      /^pipeline placement: node "block1" \(stage 0\) reads "pos.y" from stage 1; edges must run/,
    );
    expect(() => planPipeline(graph, { stages: 99 })).toThrow(/99 stages for \d+ nodes/);
  });
});

describe('pipeline stages in one process (memory bus)', () => {
  test('3 stages × 2 micro-batches train as one process does: losses, weights and Adam slots within 1e-5 after 20 steps', async () => {
    const data = batches(STEPS);
    const single = singleProcess(graph, data);
    const runtime = new Runtime(graph, { seed: 3, backend });
    const t = trainer();
    const stepper = await pipelineStepper(runtime, t, {
      stages: 3,
      microBatches: 2,
      backend: 'reference',
      plugins,
      cluster: memoryCluster(),
      timeoutSeconds: 20,
    });
    try {
      const losses: number[] = [];
      for (const b of data) losses.push((await stepper.step(b)).loss);
      losses.forEach((l, i) => expect(Math.abs(l - single.losses[i])).toBeLessThan(1e-5));
      await stepper.sync();
      expect(maxDifference(values(runtime, t), single.values)).toBeLessThan(1e-5);
      // The weights moved: equality is not two untouched copies.
      expect(maxDifference(values(new Runtime(graph, { seed: 3, backend })), values(single.runtime))).toBeGreaterThan(
        1e-3,
      );
    } finally {
      await stepper.close();
    }
  });

  test('an LSTM resumed at step 10 (weights and Adam slots sent to the stages), 2 stages × 4 micro-batches, equals 20 steps in one process', async () => {
    // An LSTM's two biases get one and the same gradient tensor: the stages' sums must keep both.
    const lstm = charLstm(8, [8, 8])(11);
    const data = batches(STEPS, 8);
    const single = singleProcess(lstm, data);
    const start = singleProcess(lstm, data.slice(0, 10));
    const stepper = await pipelineStepper(start.runtime, start.trainer, {
      stages: 2,
      microBatches: 4,
      backend: 'reference',
      plugins,
      cluster: memoryCluster(),
    });
    try {
      for (const [i, b] of data.slice(10).entries()) {
        const r = await stepper.step(b);
        expect(r.step).toBe(11 + i);
        expect(Math.abs(r.loss - single.losses[10 + i])).toBeLessThan(1e-5);
      }
      await stepper.sync();
      expect(maxDifference(values(start.runtime, start.trainer), single.values)).toBeLessThan(1e-5);
    } finally {
      await stepper.close();
    }
  });

  test("messages$ on the driver shows every stage's messages, as one process would send them", async () => {
    const [b] = batches(1);
    const expected = collect(new Runtime(graph, { seed: 3, backend }), (rt) =>
      tidy(() => void trainer().trainStep(rt, b)),
    );
    const runtime = new Runtime(graph, { seed: 3, backend });
    const stepper = await pipelineStepper(runtime, trainer(), {
      stages: 3,
      backend: 'reference',
      plugins,
      cluster: memoryCluster(),
    });
    try {
      expectSameMessages(expected, await collectAsync(runtime, () => stepper.step(b)), 1);
    } finally {
      await stepper.close();
    }
  });
});

/** Every message of one step by a key naming it (kind, port, sender), with its values. */
function messageKey(m: Message): string | undefined {
  switch (m.kind) {
    case 'activation':
      return `activation ${formatPortRef(m.from)}`;
    case 'gradient':
      return `gradient ${formatPortRef(m.to)} <- ${formatPortRef(m.from)}`;
    case 'param-grad':
      return `param-grad ${m.node}.${m.param}`;
    default:
      return undefined;
  }
}

interface Seen {
  readonly shape: number[];
  readonly values: number[];
}

/** Each message's values by key, in arrival order (a key arrives once per micro-batch). */
function record(out: Map<string, Seen[]>, m: Message): void {
  const k = messageKey(m);
  if (!k || !(m.kind === 'activation' || m.kind === 'gradient' || m.kind === 'param-grad')) return;
  const t = m.kind === 'activation' ? m.value : m.grad;
  out.set(k, [...(out.get(k) ?? []), { shape: t.shape as number[], values: t.toArray() }]);
}

function collect(rt: Runtime, run: (rt: Runtime) => void): Map<string, Seen[]> {
  const out = new Map<string, Seen[]>();
  const sub = rt.messages$.subscribe((m) => record(out, m));
  run(rt);
  sub.unsubscribe();
  return out;
}

async function collectAsync(rt: Runtime, run: () => Promise<unknown>): Promise<Map<string, Seen[]>> {
  const out = new Map<string, Seen[]>();
  const sub = rt.messages$.subscribe((m) => record(out, m));
  await run();
  sub.unsubscribe();
  return out;
}

/**
 * One process's value of a key from the micro-batches' messages: rows of a batch-first value
 * joined in micro-batch order; a value of the whole batch's shape is a share to sum (a gradient)
 * or the same for every micro-batch (an activation: a tied table, a micro-batch's mean loss).
 */
function wholeBatch(key: string, parts: Seen[], whole: Seen): number[] {
  if (parts.length === 1) return parts[0].values;
  if (parts.every((p) => p.shape.join() === whole.shape.join())) {
    const sum = whole.values.map((_, i) => parts.reduce((s, p) => s + p.values[i], 0));
    return key.startsWith('activation') ? sum.map((v) => v / parts.length) : sum;
  }
  return parts.flatMap((p) => p.values);
}

/** Every key of one process's step arrives from the pipeline, and each value matches. */
function expectSameMessages(expected: Map<string, Seen[]>, got: Map<string, Seen[]>, micro: number): void {
  expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [k, [whole]] of expected) {
    const parts = got.get(k)!;
    expect(parts.length, k).toBe(k.startsWith('param-grad') ? 1 : micro);
    expect(maxAbs(whole.values, wholeBatch(k, parts, whole)), k).toBeLessThan(1e-9);
  }
}

function maxAbs(a: number[], b: number[]): number {
  expect(b.length).toBe(a.length);
  return a.reduce((d, v, i) => Math.max(d, Math.abs(v - b[i])), 0);
}

describe('pipeline stages as processes over a private nats-server', () => {
  const data = batches(STEPS + 2);
  const single = singleProcess(graph, data.slice(0, STEPS));
  const runtime = new Runtime(graph, { seed: 3, backend });
  const t = trainer();
  let stepper: PipelineStepper;
  let run = '';

  beforeAll(async () => {
    // A generous timeout: under the test runner each stage loads the TypeScript sources.
    stepper = await pipelineStepper(runtime, t, {
      stages: 2,
      microBatches: 2,
      backend: 'reference',
      plugins,
      timeoutSeconds: 90,
    });
    run = stepper.run;
  }, 150_000);

  afterAll(async () => {
    await stepper?.close();
    expect(processesOf(run)).toEqual([]);
  }, 30_000);

  test('2 stage processes × 2 micro-batches train as one process does, within 1e-5 after 20 steps', async () => {
    expect(processesOf(run).filter((p) => p.includes('ganglion-stage'))).toHaveLength(2);
    const losses: number[] = [];
    for (const b of data.slice(0, STEPS)) losses.push((await stepper.step(b)).loss);
    losses.forEach((l, i) => expect(Math.abs(l - single.losses[i])).toBeLessThan(1e-5));
    await stepper.sync();
    expect(maxDifference(values(runtime, t), single.values)).toBeLessThan(1e-5);
  }, 60_000);

  test("messages$ on the driver shows every message of every stage's micro-batches", async () => {
    const b = data[STEPS];
    const expected = collect(single.runtime, (rt) => tidy(() => void single.trainer.trainStep(rt, b)));
    expectSameMessages(expected, await collectAsync(runtime, () => stepper.step(b)), 2);
  }, 60_000);

  test('a stage killed mid-step stops every process within the timeout, with one line', async () => {
    const victim = stepper.pids[1]!;
    // Kill stage 1 once the step is under way: stage 0 has sent its first activation.
    const sub = runtime.messages$.subscribe((m) => {
      if (m.kind === 'activation' && m.from.node === 'embed') {
        sub.unsubscribe();
        process.kill(victim, 'SIGKILL');
      }
    });
    const start = Date.now();
    await expect(stepper.step(data[STEPS + 1])).rejects.toThrow(
      new RegExp(`^pipeline: stage 1 \\(pid ${victim}\\) was killed by SIGKILL; every stage is stopped$`),
    );
    await stepper.close();
    expect(Date.now() - start).toBeLessThan(90_000);
    expect(processesOf(run)).toEqual([]);
  }, 60_000);
});

/** The command lines of this run's processes still alive (stages, and the server named after the run). */
function processesOf(run: string): string[] {
  if (!run) return [];
  try {
    return execFileSync('pgrep', ['-a', '-f', run], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}
