// Frames that arrived before anyone asked for them, by key, and waits for those that have not:
// a stage's activations and gradients can come before the step that reads them starts, or after.
// A wait longer than its timeout rejects with the error its caller describes.
//
//   mailbox.put('act|embed.y|3|0', frame);
//   const frame = await mailbox.take('act|embed.y|3|0', 60_000, () => new TrainingError('...'));
import type { Frame } from './wire.js';

export class Mailbox {
  private readonly frames = new Map<string, Frame>();
  private readonly waiting = new Map<string, (f: Frame) => void>();

  put(key: string, frame: Frame): void {
    const wake = this.waiting.get(key);
    if (wake) wake(frame);
    else this.frames.set(key, frame);
  }

  take(key: string, timeoutMs: number, timedOut: () => Error): Promise<Frame> {
    const frame = this.frames.get(key);
    if (frame) {
      this.frames.delete(key);
      return Promise.resolve(frame);
    }
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(timedOut());
      }, timeoutMs);
      this.waiting.set(key, (f) => {
        clearTimeout(timer);
        this.waiting.delete(key);
        resolve(f);
      });
    });
  }
}
