// `ganglion train --stages S|PLACEMENT [--micro-batches M]`: the flags of pipeline training, checked
// before any work, and the stepper they start (pipeline-stepper.ts). --nats URL and --timeout
// SECONDS mean the same here as for data parallel (data-parallel.ts): the server the processes
// share (default a private one) and how long a silent stage is waited for.
//
//   const flags = pipelineFlags(values, { backend: values.backend, batch: 32 });
//   const stepper = flags && (await startPipeline(runtime, trainer, flags, { plugins, seed, batch: 32 }));
import { readFileSync } from 'node:fs';
import type { PluginChoice, Runtime, Trainer } from '@ganglion/core';
import { type FlagSpec, UsageError, num } from '../args.js';
import { type PipelineStepper, pipelineStepper } from './pipeline-stepper.js';
import { STAGE_BACKENDS, type StageBackend } from './pipeline-protocol.js';

export const PIPELINE_FLAGS: FlagSpec = {
  stages: { type: 'string' },
  'micro-batches': { type: 'string' },
};

export const PIPELINE_USAGE = `[--stages S|PLACEMENT [--micro-batches M]]`;

export const PIPELINE_HELP = `Pipeline stages: --stages S splits the model into S stages of consecutive layers (about equal
parameter counts), each its own process; activations flow forward and gradients back on NATS
subjects named after the graph's edges (a private nats-server on 127.0.0.1, or --nats URL).
--stages '{"embed":0,"lstm1":0,"lstm2":1,"head":1,"loss":1}' (or @FILE.json) places each layer.
--micro-batches M (default S) cuts each batch into M (GPipe): every micro-batch's forward, then
every backward, one update per batch, the same training as one process. Stages run eagerly on
--backend tfjs-wasm (default), tfjs or reference; a stage that dies or is silent for --timeout
SECONDS (default 60) stops the run with one line.`;

export interface PipelineFlags {
  readonly stages?: number;
  readonly placement?: Readonly<Record<string, number>>;
  readonly microBatches: number;
  readonly backend: StageBackend;
  readonly nats?: string;
  readonly timeoutSeconds: number;
}

type Values = Readonly<Record<string, string | boolean | undefined>>;

/** The pipeline flags, or undefined without --stages; a bad one is one UsageError naming it. */
export function pipelineFlags(
  values: Values,
  ctx: { backend?: string | boolean; batch?: number },
): PipelineFlags | undefined {
  if (values.stages === undefined) {
    if (values['micro-batches'] !== undefined)
      throw new UsageError('--micro-batches: micro-batches are for pipeline stages; add --stages S');
    return undefined;
  }
  const clash = ['workers', 'world', 'rank', 'grad-accum'].find((k) => values[k] !== undefined);
  if (clash)
    throw new UsageError(
      clash === 'grad-accum'
        ? '--grad-accum: with --stages, cut batches with --micro-batches M'
        : `--${clash}: data parallel and --stages are one or the other in this version`,
    );
  const raw = String(values.stages);
  const placement = raw.startsWith('{') || raw.startsWith('@') ? placementOf(raw) : undefined;
  const stages = placement ? undefined : num('stages', values.stages, 1, { min: 1, integer: true });
  const count = stages ?? Math.max(...Object.values(placement!)) + 1;
  const microBatches = num('micro-batches', values['micro-batches'], count, { min: 1, integer: true });
  if (ctx.batch !== undefined && ctx.batch % microBatches !== 0)
    throw new UsageError(
      `--micro-batches ${microBatches}: the batch of ${ctx.batch} does not split into ${microBatches} equal micro-batches${values['micro-batches'] === undefined ? ' (the default is the stage count); pass --micro-batches M' : ''}`,
    );
  const backend = ctx.backend === undefined ? 'tfjs-wasm' : String(ctx.backend);
  if (!(STAGE_BACKENDS as readonly string[]).includes(backend))
    throw new UsageError(
      `--backend ${backend}: pipeline stages run eager runtimes; use --backend ${STAGE_BACKENDS.join(', ')}`,
    );
  if (
    values.nats !== undefined &&
    (typeof values.nats !== 'string' || !/^(nats|tls|wss?):\/\/|^[^:/]+:\d+$/.test(values.nats))
  )
    throw new UsageError(`--nats ${String(values.nats)}: expected a NATS URL such as nats://host:4222`);
  return {
    ...(placement ? { placement } : { stages }),
    microBatches,
    backend: backend as StageBackend,
    ...(values.nats === undefined ? {} : { nats: String(values.nats) }),
    timeoutSeconds: num('timeout', values.timeout, 60, { min: 0, exclusiveMin: true }),
  };
}

/** A placement map: JSON given inline or in a file (`@FILE`), `{ "node": stage }`. */
function placementOf(raw: string): Record<string, number> {
  let text = raw;
  if (raw.startsWith('@')) {
    try {
      text = readFileSync(raw.slice(1), 'utf8');
    } catch (e) {
      throw new UsageError(`--stages ${raw}: cannot read ${raw.slice(1)}: ${(e as Error).message}`);
    }
  }
  let map: unknown;
  try {
    map = JSON.parse(text);
  } catch {
    throw new UsageError(
      `--stages: expected a stage count or a JSON object {"node": stage}, got ${JSON.stringify(text.slice(0, 60))}`,
    );
  }
  const ok =
    typeof map === 'object' &&
    map !== null &&
    !Array.isArray(map) &&
    Object.keys(map).length > 0 &&
    Object.values(map).every((v) => Number.isInteger(v) && (v as number) >= 0);
  if (!ok)
    throw new UsageError('--stages: a placement maps each node to a stage number ≥ 0, e.g. {"embed":0,"head":1}');
  return map as Record<string, number>;
}

/** Start the stages for a run; the caller closes the stepper when training ends. */
export async function startPipeline(
  runtime: Runtime,
  trainer: Trainer,
  flags: PipelineFlags,
  opts: { plugins: PluginChoice; seed: number; batch: number },
): Promise<PipelineStepper> {
  if (opts.batch % flags.microBatches !== 0)
    throw new UsageError(
      `--micro-batches ${flags.microBatches}: the batch of ${opts.batch} does not split into ${flags.microBatches} equal micro-batches`,
    );
  return pipelineStepper(runtime, trainer, {
    ...(flags.placement ? { placement: flags.placement } : { stages: flags.stages }),
    microBatches: flags.microBatches,
    backend: flags.backend,
    plugins: opts.plugins,
    seed: opts.seed,
    nats: flags.nats,
    timeoutSeconds: flags.timeoutSeconds,
    // The CLI forwards only what its watches want (--log-grad-norms).
    messages: 'watched',
  });
}

/** One line for the run's header: the stages and their nodes. */
export function describePipeline(stepper: PipelineStepper, flags: PipelineFlags): string {
  const stages = stepper.plan.stages.map((s) => `[${s.nodes.join(', ')}]`).join(' -> ');
  return `pipeline: ${stepper.plan.stages.length} stage processes ${stages}, ${flags.microBatches} micro-batches per batch, on ${flags.backend}, run ${stepper.run}`;
}
