// AllReduce: the sum over the ranks of a Float32Array, in place, as reduce-scatter then all-gather
// of contiguous shards over a Link. The vector is cut into `world` contiguous shards; rank r owns
// shard r. A step:
//   1. every rank says it is ready (`<run>.dp.ready`), then sends shard d of its vector to rank d
//      (`<run>.dp.rs.<d>`) once d has said so: a rank is sent data only while it is listening, not
//      while onnxruntime blocks its event loop, so the server never queues a whole model for it;
//   2. the owner of shard r adds the W contributions in rank order 0..W-1 in float64 and rounds
//      once to float32, then publishes the sum (`<run>.dp.ag`);
//   3. every rank copies each owner's sum into its vector.
// The order of the additions is fixed and every rank ends with the owners' bytes, so every rank
// holds the same bits whatever the number of threads or the arrival order. Each rank sends about
// 4·n bytes a step: (W-1)/W of its vector to the owners, 1/W as an owner (the server fans it out).
// Shards travel in pieces of at most CHUNK_VALUES, each with its offset, copied into place on arrival.
// Waits go through the RankGroup, so a dead rank or a lost server fails them instead of hanging.
//
//   const reduce = new AllReduce(link, group);
//   await reduce.sum(step, flatGradients);   // flatGradients now holds the sum over all ranks
import type { Link } from './link.js';
import type { RankGroup } from './rank-group.js';

/** Bytes before a piece of a shard: u32 step, u32 sending rank, u32 offset in the shard. */
const HEAD = 12;
/**
 * Values per message: under NATS's default max_payload (1 MiB) with room for the head, so no message
 * is cut and joined again on the way, and each piece is copied once on arrival, into place.
 */
const CHUNK_VALUES = 250_000;

interface Round {
  readonly step: number;
  readonly data: Float32Array;
  readonly sentTo: Set<number>;
  /** Contributions to this rank's shard, by sending rank: values arrived so far. */
  readonly receivedValues: Map<number, number>;
  /** Ranks whose whole contribution has arrived. */
  readonly received: Set<number>;
  /** Owners' reduced shards: values arrived so far. */
  readonly gatheredValues: Map<number, number>;
  /** Owners whose reduced shard is in `data`. */
  readonly gathered: Set<number>;
}

export interface AllReduceStats {
  /** Calls of `sum`. */
  readonly calls: number;
  /** Seconds spent in `sum` (sending, waiting for the slowest rank, adding, copying). */
  readonly seconds: number;
  /** Bytes this rank published. */
  readonly bytesSent: number;
}

export class AllReduce {
  private round?: Round;
  /** Ranks that said they are ready, by step (a faster rank's word may come before this rank's round). */
  private readonly ready = new Map<number, Set<number>>();
  /** Contribution buffers by sending rank, reused from step to step. */
  private readonly buffers = new Map<number, Float32Array>();
  private readonly unsubscribe: (() => void)[];
  /** The float64 sums of this rank's shard, reused from step to step. */
  private acc = new Float64Array(0);
  /** The last step summed (a repeated word about it is old news). */
  private done = -1;
  private calls = 0;
  private seconds = 0;
  private bytesSent = 0;

  constructor(
    private readonly link: Link,
    private readonly group: RankGroup,
  ) {
    const { rank } = group;
    this.unsubscribe = [
      link.subscribe(group.subject('ready'), (bytes) => this.onReady(bytes)),
      link.subscribe(group.subject(`rs.${rank}`), (bytes) => this.onContribution(bytes)),
      link.subscribe(group.subject('ag'), (bytes) => this.onGathered(bytes)),
    ];
  }

  get stats(): AllReduceStats {
    return { calls: this.calls, seconds: this.seconds, bytesSent: this.bytesSent };
  }

  /** [start, end) of shard `r` of `n` values. */
  shard(r: number, n: number): [number, number] {
    const w = this.group.world;
    return [Math.floor((r * n) / w), Math.floor(((r + 1) * n) / w)];
  }

  /** Replace `data` with its sum over every rank (each calls this with the same `step` and length). */
  async sum(step: number, data: Float32Array): Promise<void> {
    const { world, rank } = this.group;
    if (world === 1) return;
    const t0 = performance.now();
    this.calls++;
    const round: Round = {
      step,
      data,
      sentTo: new Set(),
      receivedValues: new Map(),
      received: new Set(),
      gatheredValues: new Map(),
      gathered: new Set(),
    };
    // Empty shards (fewer values than ranks) have nothing to send or gather.
    for (let r = 0; r < world; r++) if (this.size(r, data.length) === 0) round.gathered.add(r);
    this.round = round;
    this.publish('ready', head(step, rank));
    this.send();
    // Say it again now and then: the word is idempotent, and a rank that missed it would wait forever.
    const again = setInterval(() => {
      try {
        this.group.send('ready', head(step, rank));
      } catch {
        // The run failed: the wait below ends with it.
      }
    }, this.group.intervalMs);
    try {
      await this.group.until(
        () => round.gathered.size === world,
        () => this.awaited(round),
      );
    } finally {
      clearInterval(again);
      this.round = undefined;
      this.done = Math.max(this.done, step);
      this.ready.delete(step);
      this.seconds += (performance.now() - t0) / 1000;
    }
  }

  /** Stop listening. */
  close(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  private size(r: number, n: number): number {
    const [a, b] = this.shard(r, n);
    return b - a;
  }

  /** Ranks this rank still waits for: readiness, contributions to its shard, owners' sums. */
  private awaited(round: Round): number[] {
    const out: number[] = [];
    for (let r = 0; r < this.group.world; r++) {
      if (r === this.group.rank) continue;
      const ready = this.ready.get(round.step)?.has(r) ?? false;
      const mine = this.size(this.group.rank, round.data.length) > 0;
      if (!ready || (mine && !round.received.has(r)) || !round.gathered.has(r)) out.push(r);
    }
    return out;
  }

  private publish(name: string, bytes: Uint8Array): void {
    this.group.send(name, bytes);
    this.bytesSent += bytes.byteLength;
  }

  /** Send this rank's piece of each ready owner's shard. */
  private send(): void {
    const round = this.round;
    if (!round) return;
    const ready = this.ready.get(round.step);
    for (let d = 0; d < this.group.world; d++) {
      if (d === this.group.rank || round.sentTo.has(d) || !ready?.has(d)) continue;
      round.sentTo.add(d);
      const [a, b] = this.shard(d, round.data.length);
      this.publishShard(`rs.${d}`, round, a, b);
    }
  }

  private onReady(bytes: Uint8Array): void {
    const [step, from] = readHead(bytes);
    if (step <= this.done) return;
    const set = this.ready.get(step) ?? new Set<number>();
    set.add(from);
    this.ready.set(step, set);
    if (this.round?.step === step) this.send();
    this.group.poke();
  }

  private onContribution(bytes: Uint8Array): void {
    const [step, from] = readHead(bytes);
    const round = this.round;
    if (!round || round.step !== step) {
      this.group.fail(
        `rank ${from} sent its gradients of step ${step} to rank ${this.group.rank}, which is ${round ? `at step ${round.step}` : 'between steps'}`,
      );
      return;
    }
    const [a, b] = this.shard(this.group.rank, round.data.length);
    const at = this.place(bytes, b - a, from, step);
    if (at === undefined) return;
    let buffer = this.buffers.get(from);
    if (buffer?.length !== b - a) this.buffers.set(from, (buffer = new Float32Array(b - a)));
    const n = copyValues(bytes, buffer, at);
    const total = (round.receivedValues.get(from) ?? 0) + n;
    round.receivedValues.set(from, total);
    if (total === b - a) round.received.add(from);
    this.reduceIfComplete();
    this.group.poke();
  }

  private onGathered(bytes: Uint8Array): void {
    const [step, owner] = readHead(bytes);
    const round = this.round;
    if (owner === this.group.rank) return;
    if (!round || round.step !== step) {
      this.group.fail(
        `rank ${owner} sent the sum of step ${step} to rank ${this.group.rank}, which is ${round ? `at step ${round.step}` : 'between steps'}`,
      );
      return;
    }
    const [a, b] = this.shard(owner, round.data.length);
    const at = this.place(bytes, b - a, owner, step);
    if (at === undefined) return;
    const total = (round.gatheredValues.get(owner) ?? 0) + copyValues(bytes, round.data, a + at);
    round.gatheredValues.set(owner, total);
    if (total === b - a) round.gathered.add(owner);
    this.group.poke();
  }

  /** Add the contributions in rank order once all have come, and publish the sum. */
  private reduceIfComplete(): void {
    const round = this.round!;
    const { rank, world } = this.group;
    if (round.received.size < world - 1 || round.gathered.has(rank)) return;
    const [a, b] = this.shard(rank, round.data.length);
    if (this.acc.length !== b - a) this.acc = new Float64Array(b - a);
    const acc = this.acc;
    for (let r = 0; r < world; r++) {
      const part = r === rank ? round.data.subarray(a, b) : this.buffers.get(r)!;
      if (r === 0) acc.set(part);
      else for (let i = 0; i < acc.length; i++) acc[i] += part[i];
    }
    round.data.set(acc, a);
    round.gathered.add(rank);
    this.publishShard('ag', round, a, b);
  }

  /** Publish values [a, b) of the round's vector in pieces of CHUNK_VALUES, each with its offset from a. */
  private publishShard(name: string, round: Round, a: number, b: number): void {
    for (let at = a; at < b; at += CHUNK_VALUES)
      this.publish(
        name,
        frame(round.step, this.group.rank, at - a, round.data.subarray(at, Math.min(b, at + CHUNK_VALUES))),
      );
  }

  /** Where a piece goes in a shard of `size` values; undefined (and the run failed) when it does not fit. */
  private place(bytes: Uint8Array, size: number, from: number, step: number): number | undefined {
    const at = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
    const n = (bytes.byteLength - HEAD) / 4;
    if (Number.isInteger(n) && at + n <= size) return at;
    this.group.fail(
      `rank ${from} sent gradient values ${at} to ${at + n} of step ${step} for a shard of ${size} on rank ${this.group.rank}: the ranks' models differ`,
    );
    return undefined;
  }
}

function head(step: number, rank: number, offset = 0): Uint8Array {
  const out = new Uint8Array(HEAD);
  const view = new DataView(out.buffer);
  view.setUint32(0, step, true);
  view.setUint32(4, rank, true);
  view.setUint32(8, offset, true);
  return out;
}

function readHead(bytes: Uint8Array): [number, number] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return [view.getUint32(0, true), view.getUint32(4, true)];
}

/** A message: the head, then the values' bytes (little-endian float32, as typed arrays hold them here). */
function frame(step: number, rank: number, offset: number, values: Float32Array): Uint8Array {
  const out = new Uint8Array(HEAD + values.byteLength);
  out.set(head(step, rank, offset));
  out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), HEAD);
  return out;
}

/** Copy a message's values into `target` from index `at` (the message's bytes need not be aligned); returns how many. */
function copyValues(bytes: Uint8Array, target: Float32Array, at: number): number {
  const values = bytes.subarray(HEAD);
  new Uint8Array(target.buffer, target.byteOffset + at * 4, values.byteLength).set(values);
  return values.byteLength / 4;
}
