// Training progress for people and for programs: a bar redrawn in place on a TTY, plain lines when
// the output is not a terminal (logs, CI), or one JSON object per line with --json.
import type { TrainEvent } from '@ganglion/core';

/**
 * What an encoder–decoder's validation adds to its `epoch` and `done` events (train --preset g2p):
 * the fractions of held-out words decoded wrong, and of their phonemes (edit distance).
 */
export interface DecodingRates {
  readonly valWordErrorRate?: number;
  readonly valPhonemeErrorRate?: number;
}

/** The decoding rates of an event, for its JSON line (nothing when it has none). */
const ratesOf = (e: DecodingRates) =>
  e.valWordErrorRate === undefined
    ? {}
    : { valWordErrorRate: e.valWordErrorRate, valPhonemeErrorRate: e.valPhonemeErrorRate ?? null };

/** ` | held-out word error rate 31.2%, phoneme error rate 8.1%`, to end a line of text ('' without rates). */
const ratesText = (e: DecodingRates) =>
  e.valWordErrorRate === undefined
    ? ''
    : ` | held-out word error rate ${(100 * e.valWordErrorRate).toFixed(1)}%, phoneme error rate ${(100 * (e.valPhonemeErrorRate ?? NaN)).toFixed(1)}%`;

export interface ProgressSink {
  event(e: TrainEvent & DecodingRates): void;
  /** A line of text that is not an event (messages, generated text). */
  note(text: string): void;
  /** The L2 norm of each parameter's gradient at a step (--log-grad-norms), keyed `<node>.<param>`. */
  gradNorms(step: number, norms: Readonly<Record<string, number>>): void;
  /**
   * The validation text's characters per token (1 for characters; ~4 for English BPE), so a
   * validation loss in nats per token also reads as bits per character, comparable across tokenizers.
   * NaN: the loss has no such reading (a masked LM's), and none is shown.
   */
  charactersPerToken(ratio: number): void;
  close(): void;
}

/** Bits per character of a loss in nats per token; null when it has none (charactersPerToken NaN). */
const bitsPerChar = (nats: number, charactersPerToken: number) =>
  Number.isNaN(charactersPerToken) ? null : nats / charactersPerToken / Math.LN2;

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** How far along a run is, from whichever budget bounds it. */
export interface Budget {
  readonly steps?: number;
  readonly seconds?: number;
}

function fraction(e: { step: number; elapsed: number }, budget: Budget, startStep: number): number {
  const f: number[] = [];
  if (budget.steps) f.push((e.step - startStep) / Math.max(1, budget.steps - startStep));
  if (budget.seconds) f.push(e.elapsed / budget.seconds);
  return f.length ? Math.min(1, Math.max(...f)) : 0;
}

export class JsonProgress implements ProgressSink {
  private perToken = 1;
  constructor(private readonly write: (s: string) => void) {}
  charactersPerToken(ratio: number): void {
    this.perToken = ratio;
  }
  event(e: TrainEvent & DecodingRates): void {
    switch (e.type) {
      case 'batch':
        this.write(
          JSON.stringify({
            event: 'batch',
            step: e.step,
            loss: e.loss,
            gradNorm: e.gradNorm,
            lr: e.lr,
            tokensPerSecond: Math.round(e.tokensPerSecond),
          }),
        );
        break;
      case 'epoch':
        this.write(
          JSON.stringify({
            event: 'epoch',
            epoch: e.epoch,
            valLoss: e.valLoss ?? null,
            valBitsPerChar: e.valLoss === undefined ? null : bitsPerChar(e.valLoss, this.perToken),
            ...ratesOf(e),
          }),
        );
        break;
      case 'checkpoint':
        this.write(JSON.stringify({ event: 'checkpoint', step: e.step, path: e.path }));
        break;
      case 'done':
        this.write(
          JSON.stringify({
            event: 'done',
            steps: e.steps,
            reason: e.reason,
            seconds: Number(e.seconds.toFixed(2)),
            valLoss: e.valLoss ?? null,
            valBitsPerChar: e.valLoss === undefined ? null : bitsPerChar(e.valLoss, this.perToken),
            ...ratesOf(e),
          }),
        );
        break;
    }
  }
  note(text: string): void {
    this.write(JSON.stringify({ event: 'message', text }));
  }
  gradNorms(step: number, norms: Readonly<Record<string, number>>): void {
    this.write(JSON.stringify({ event: 'grad-norms', step, norms }));
  }
  close(): void {}
}

/** Human-readable progress: a redrawn bar on a TTY, a line every few seconds otherwise. */
export class TextProgress implements ProgressSink {
  private lastLine = 0;
  private drawn = false;
  private tokensPerSecond = 0;
  private startStep = -1;
  private perToken = 1;

  constructor(
    private readonly stream: { write(s: string): unknown; isTTY?: boolean; columns?: number },
    private readonly budget: Budget,
    private readonly plainEverySeconds = 5,
  ) {}

  private bar(e: { step: number; loss: number; elapsed: number }): string {
    const f = fraction(e, this.budget, this.startStep);
    const eta = f > 0 ? (e.elapsed * (1 - f)) / f : Infinity;
    const width = 24;
    const filled = Math.round(f * width);
    const steps = this.budget.steps ? `/${this.budget.steps}` : '';
    return `step ${e.step}${steps} [${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}] ${(f * 100).toFixed(0).padStart(3)}% | loss ${e.loss.toFixed(3)} | ${Math.round(this.tokensPerSecond).toLocaleString('en-US')} tok/s | ETA ${formatDuration(eta)}`;
  }

  charactersPerToken(ratio: number): void {
    this.perToken = ratio;
  }

  event(e: TrainEvent & DecodingRates): void {
    const bpc = (nats: number) => bitsPerChar(nats, this.perToken)?.toFixed(3);
    if (e.type === 'batch') {
      if (this.startStep < 0) this.startStep = e.step - 1;
      this.tokensPerSecond =
        this.tokensPerSecond === 0 ? e.tokensPerSecond : 0.9 * this.tokensPerSecond + 0.1 * e.tokensPerSecond;
      if (this.stream.isTTY) {
        const line = this.bar(e);
        const cols = this.stream.columns ?? 120;
        this.stream.write(`\r\x1b[K${line.slice(0, cols - 1)}`);
        this.drawn = true;
      } else if (e.elapsed - this.lastLine >= this.plainEverySeconds || e.step === this.budget.steps) {
        this.lastLine = e.elapsed;
        this.stream.write(`${this.bar(e)}\n`);
      }
      return;
    }
    const text =
      e.type === 'epoch'
        ? `${e.partial ? 'end of run' : `epoch ${e.epoch + 1}`}: train loss ${e.trainLoss.toFixed(4)}` +
          (e.valLoss === undefined
            ? ''
            : ` | validation loss ${e.valLoss.toFixed(4)} nats/token` +
              (bpc(e.valLoss) === undefined ? '' : ` = ${bpc(e.valLoss)} bits/char`))
        : e.type === 'checkpoint'
          ? `checkpoint saved: ${e.path}`
          : `done: ${e.steps} steps in ${formatDuration(e.seconds)}` +
            (e.valLoss === undefined
              ? ''
              : bpc(e.valLoss) === undefined
                ? `, validation loss ${e.valLoss.toFixed(4)} nats/token`
                : `, validation ${bpc(e.valLoss)} bits/char`);
    this.note(text + ratesText(e));
  }

  note(text: string): void {
    if (this.drawn) {
      this.stream.write('\r\x1b[K');
      this.drawn = false;
    }
    this.stream.write(`${text}\n`);
  }

  gradNorms(step: number, norms: Readonly<Record<string, number>>): void {
    this.note(
      `step ${step} gradient norms: ${Object.entries(norms)
        .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
        .join(', ')}`,
    );
  }

  close(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
