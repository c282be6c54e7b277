// RankGroup: the ranks of one data-parallel run, as a group over a Link (NATS): who is there, who is
// alive, whether they all train the same thing, and how one failure stops every rank. Subjects, all
// under the run's id so that runs sharing a server never meet:
//   <run>.dp.hb     heartbeat {rank, world, nonce, pid, host, config?}, every `interval`
//   <run>.dp.abort  {rank, nonce, message, relay}: a rank failed; every rank stops with one line
//   <run>.dp.bye    {rank, nonce}: a rank finished and leaves
//   <run>.dp.vote   {kind, step, rank, value}: small all-gathers (the weight hashes)
// Membership: a rank is known by its first heartbeat; a process draws a random nonce, so two
// processes with one --rank, a different --world or a rank outside 0..world-1 fail the run at once,
// on every rank that sees them. The configuration (`agree`) rides on the heartbeats until every rank
// has sent its own, then every rank compares them all with rank 0's and reaches the same verdict.
// Liveness: a rank not heard from for `timeout` seconds (dead, stopped, cut off) fails the run with
// one line naming it; so does the end of this process's own connection. onnxruntime blocks the event
// loop while a graph runs, so a check that fires late skips its turn: heartbeats that queued up
// meanwhile are read before any rank is judged (a step must still take less than the timeout).
//
//   const group = await RankGroup.join(link, { run: 'job-7', rank, world: 2, timeoutSeconds: 30 });
//   await group.agree({ graph: sha, lr: '0.002' });   // or throws DistributedError on a mismatch
//   const hashes = await group.exchange('weights', step, myHash);
//   await group.leave();
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { GanglionError } from '@ganglion/core';
import type { Link } from './link.js';

/** The ranks of a data-parallel run disagree, or one of them (or the server) is gone. */
export class DistributedError extends GanglionError {}

export interface RankGroupOptions {
  /** The run's id: every subject starts with it. */
  readonly run: string;
  readonly rank: number;
  readonly world: number;
  /** A rank silent this long fails the run. */
  readonly timeoutSeconds: number;
  /** The bus, as messages name it (default 'the NATS server'). */
  readonly where?: string;
}

/** A configuration to agree on: named parts (a hash, a number as text). */
export type RankConfig = Readonly<Record<string, string>>;

interface Heartbeat {
  readonly rank: number;
  readonly world: number;
  readonly nonce: string;
  readonly pid: number;
  readonly host: string;
  readonly config?: RankConfig;
}

interface Member {
  readonly nonce: string;
  readonly pid: number;
  readonly host: string;
  seen: number;
  config?: RankConfig;
  left?: boolean;
}

const now = () => performance.now();
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const encode = (value: unknown) => encoder.encode(JSON.stringify(value));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The hash a configuration goes by in messages: 12 hex digits of the sha256 of its sorted parts. */
export function configHash(config: RankConfig): string {
  const sorted = Object.keys(config)
    .sort()
    .map((k) => [k, config[k]]);
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 12);
}

export class RankGroup {
  readonly rank: number;
  readonly world: number;
  readonly run: string;
  readonly timeoutMs: number;
  /** Heartbeat period: a quarter of the timeout, between 50 ms and 1 s. */
  readonly intervalMs: number;
  private readonly where: string;
  private readonly nonce = randomBytes(6).toString('hex');
  private readonly members = new Map<number, Member>();
  private readonly votes = new Map<string, Map<number, string>>();
  private readonly waits = new Set<{ check: () => void; reject: (e: Error) => void }>();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly hooks: ((e: DistributedError) => void)[] = [];
  private config?: RankConfig;
  private failure?: DistributedError;
  private timer?: NodeJS.Timeout;
  private readonly started = now();
  private lastCheck = now();
  private closed = false;

  private constructor(
    private readonly link: Link,
    opts: RankGroupOptions,
  ) {
    if (!Number.isInteger(opts.world) || opts.world < 1)
      throw new DistributedError(`world must be an integer >= 1, got ${opts.world}`);
    if (!Number.isInteger(opts.rank) || opts.rank < 0 || opts.rank >= opts.world)
      throw new DistributedError(`rank ${opts.rank} is outside 0..${opts.world - 1} (world ${opts.world})`);
    this.rank = opts.rank;
    this.world = opts.world;
    this.run = opts.run;
    this.where = opts.where ?? 'the NATS server';
    this.timeoutMs = opts.timeoutSeconds * 1000;
    this.intervalMs = Math.min(1000, Math.max(50, this.timeoutMs / 4));
    this.members.set(this.rank, { nonce: this.nonce, pid: process.pid, host: hostname(), seen: now() });
  }

  /** Subscribe, send the first heartbeat, and keep beating and checking until `leave`. */
  static async join(link: Link, opts: RankGroupOptions): Promise<RankGroup> {
    const group = new RankGroup(link, opts);
    await group.start();
    return group;
  }

  /** The subject `<run>.dp.<name>`. */
  subject(name: string): string {
    return `${this.run}.dp.${name}`;
  }

  /** The failure that stopped the run, if any. */
  get failed(): DistributedError | undefined {
    return this.failure;
  }

  /** Call `hook` once when the run fails (at once if it has). */
  onFailure(hook: (e: DistributedError) => void): void {
    if (this.failure) hook(this.failure);
    else this.hooks.push(hook);
  }

  /**
   * Wait until `done()` holds; it is checked after every message `poke` reports and every
   * heartbeat. Rejects when the run fails, or when a rank in `awaited()` leaves first.
   */
  until(done: () => boolean, awaited: () => Iterable<number> = () => []): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const wait = {
        check: () => {
          if (done()) {
            this.waits.delete(wait);
            resolve();
            return;
          }
          for (const r of awaited())
            if (this.members.get(r)?.left)
              this.fail(`rank ${r} left the run while rank ${this.rank} still waited for it`);
        },
        reject: (e: Error) => {
          this.waits.delete(wait);
          reject(e);
        },
      };
      this.waits.add(wait);
    });
  }

  /** Re-check every `until` (a message they may wait for has arrived). */
  poke(): void {
    for (const w of [...this.waits]) w.check();
  }

  /**
   * Agree on what is trained: `config` goes out with the heartbeats; once every rank's has come,
   * each is compared with rank 0's, part by part, and the first difference fails the run (on every
   * rank the same line, naming the rank, the part and both values).
   */
  async agree(config: RankConfig): Promise<void> {
    this.config = config;
    this.members.get(this.rank)!.config = config;
    this.beat();
    await this.until(() => this.ranks().every((r) => this.members.get(r)?.config !== undefined));
    const first = this.members.get(0)!.config!;
    for (let r = 1; r < this.world; r++) {
      const theirs = this.members.get(r)!.config!;
      const keys = [...new Set([...Object.keys(first), ...Object.keys(theirs)])];
      const key = keys.find((k) => theirs[k] !== first[k]);
      if (key === undefined) continue;
      const show = (v: string | undefined) =>
        v === undefined ? 'none' : /^[0-9a-f]{64}$/.test(v) ? v.slice(0, 12) : v;
      const message =
        `rank ${r}'s ${key} (${show(theirs[key])}) differs from rank 0's (${show(first[key])}); config hash ` +
        `${configHash(theirs)} vs ${configHash(first)}: every rank must train the same model from the same checkpoint with the same settings`;
      this.fail(message);
      throw this.failure;
    }
  }

  /**
   * Publish on `<run>.dp.<name>`. A connection that cannot send any more fails the run (naming the
   * server) and throws that failure.
   */
  send(name: string, bytes: Uint8Array): void {
    if (this.failure) throw this.failure;
    try {
      this.link.publish(this.subject(name), bytes);
    } catch (e) {
      this.fail(`lost the connection to ${this.where}: ${(e as Error).message}`);
      throw this.failure;
    }
  }

  /** Every rank's `value` for (`kind`, `step`), by rank: a small all-gather. */
  async exchange(kind: string, step: number, value: string): Promise<string[]> {
    const key = `${kind}|${step}`;
    this.send('vote', encode({ kind, step, rank: this.rank, value }));
    const got = () => this.votes.get(key);
    await this.until(
      () => (got()?.size ?? 0) === this.world,
      () => this.ranks().filter((r) => !got()?.has(r)),
    );
    const values = this.ranks().map((r) => got()!.get(r)!);
    this.votes.delete(key);
    return values;
  }

  /**
   * Fail the run from here: `message` names the cause (a rank, the server). Every rank stops with it;
   * with `relay: false` (this rank's own error) the others say `rank R stopped: message`.
   */
  fail(message: string, relay = true): void {
    if (this.failure) return;
    this.failure = new DistributedError(message);
    if (!this.closed) {
      try {
        this.link.publish(this.subject('abort'), encode({ rank: this.rank, nonce: this.nonce, message, relay }));
        void this.link.flush().catch(() => undefined);
      } catch {
        // The connection is gone: the others see this rank fall silent.
      }
    }
    this.stopTimer();
    for (const w of [...this.waits]) w.reject(this.failure);
    for (const hook of this.hooks.splice(0)) hook(this.failure);
  }

  /** Leave: say goodbye (so the others do not wait for this rank) and stop beating. */
  async leave(): Promise<void> {
    if (this.closed) return;
    this.stopTimer();
    if (!this.failure) {
      try {
        this.link.publish(this.subject('bye'), encode({ rank: this.rank, nonce: this.nonce }));
        await this.link.flush();
      } catch {
        // Nothing to say goodbye over.
      }
    }
    this.closed = true;
    for (const u of this.unsubscribe.splice(0)) u();
  }

  private ranks(): number[] {
    return Array.from({ length: this.world }, (_, r) => r);
  }

  private async start(): Promise<void> {
    const on = (name: string, handler: (value: Record<string, unknown>) => void) =>
      this.unsubscribe.push(
        this.link.subscribe(this.subject(name), (bytes) => {
          let value: Record<string, unknown>;
          try {
            value = JSON.parse(decoder.decode(bytes)) as Record<string, unknown>;
          } catch {
            return; // not ours
          }
          if (this.closed || this.failure) return;
          handler(value);
          this.poke();
        }),
      );
    on('hb', (h) => this.onHeartbeat(h as unknown as Heartbeat));
    on('abort', (a) => {
      if (a.nonce === this.nonce) return;
      this.fail(a.relay ? String(a.message) : `rank ${String(a.rank)} stopped: ${String(a.message)}`);
    });
    on('bye', (b) => {
      const m = this.members.get(Number(b.rank));
      if (m && m.nonce === b.nonce) m.left = true;
    });
    on('vote', (v) => {
      const key = `${String(v.kind)}|${String(v.step)}`;
      const got = this.votes.get(key) ?? new Map<number, string>();
      got.set(Number(v.rank), String(v.value));
      this.votes.set(key, got);
    });
    void this.link.closed.then((e) => {
      if (e && !this.closed) this.fail(`lost the connection to ${this.where}: ${e.message}`);
    });
    this.beat();
    await this.link.flush();
    this.timer = setInterval(() => {
      this.beat();
      this.check();
    }, this.intervalMs);
  }

  private beat(): void {
    if (this.closed || this.failure) return;
    const me = this.members.get(this.rank)!;
    const h: Heartbeat = { rank: this.rank, world: this.world, nonce: this.nonce, pid: me.pid, host: me.host };
    try {
      this.link.publish(this.subject('hb'), encode(this.config ? { ...h, config: this.config } : h));
    } catch {
      // A closed link: `closed` reports it.
    }
  }

  private onHeartbeat(h: Heartbeat): void {
    if (!Number.isInteger(h.rank) || typeof h.nonce !== 'string') return;
    const who = `pid ${h.pid} on ${h.host}`;
    if (h.rank < 0 || h.rank >= this.world) {
      this.fail(
        `a process with --rank ${h.rank} (${who}) joined run "${this.run}" of --world ${this.world}: ranks are 0 to ${this.world - 1}`,
      );
      return;
    }
    if (h.world !== this.world) {
      const [a, b] = h.rank < this.rank ? [h.rank, this.rank] : [this.rank, h.rank];
      const worldOf = (r: number) => (r === h.rank ? h.world : this.world);
      this.fail(`ranks disagree on --world: rank ${a} has ${worldOf(a)}, rank ${b} has ${worldOf(b)}`);
      return;
    }
    const known = this.members.get(h.rank);
    if (known && known.nonce !== h.nonce) {
      const [x, y] = [known, h].sort((p, q) => (p.nonce < q.nonce ? -1 : 1));
      this.fail(
        `two processes claim rank ${h.rank}: pid ${x.pid} on ${x.host} and pid ${y.pid} on ${y.host}; give each process its own --rank`,
      );
      return;
    }
    if (known) {
      known.seen = now();
      if (h.config) known.config = h.config;
    } else this.members.set(h.rank, { nonce: h.nonce, pid: h.pid, host: h.host, seen: now(), config: h.config });
  }

  /** Judge the others' silence; skipped when this check itself fires late (the event loop was busy). */
  private check(): void {
    const t = now();
    const late = t - this.lastCheck > 2.5 * this.intervalMs;
    this.lastCheck = t;
    if (late || this.failure) return;
    for (const r of this.ranks()) {
      if (r === this.rank) continue;
      const m = this.members.get(r);
      if (m?.left) continue;
      const silent = t - (m?.seen ?? this.started);
      if (silent <= this.timeoutMs) continue;
      this.fail(
        m
          ? `rank ${r} (pid ${m.pid} on ${m.host}) stopped answering: no heartbeat for ${seconds(silent)} (--timeout ${this.timeoutMs / 1000})`
          : `rank ${r} did not join run "${this.run}" on ${this.where} within --timeout ${this.timeoutMs / 1000} s`,
      );
      return;
    }
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
