// A Link over NATS (@nats-io/transport-node): publish/subscribe on subjects, in order per sender.
// A frame larger than the server's max_payload (1 MiB by default) is cut into chunks, each tagged
// with the frame's random id, its index and the chunk count, and joined again on arrival, so a
// stage's parameters or a large activation cross whatever the server's limit. No reconnection: a
// lost server ends the run (`closed` resolves with the reason), as a lost rank would.
//
//   const link = await connectNats('nats://127.0.0.1:4222', { name: 'ganglion-stage 1' });
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { ConfigError } from '@ganglion/core';
import type { Link } from './link.js';

const WHOLE = 0;
const CHUNK = 1;
/** Flag, 8-byte id, u32 index, u32 count. */
const CHUNK_HEAD = 17;

export interface NatsLinkOptions {
  /** The connection's name (shown by the server's monitoring). */
  readonly name?: string;
  /** How long to try to connect (default 5000 ms). */
  readonly timeoutMs?: number;
}

/** Connect to a NATS server, or throw one ConfigError naming the URL. */
export async function connectNats(url: string, opts: NatsLinkOptions = {}): Promise<Link> {
  let nc: Awaited<ReturnType<typeof connect>>;
  try {
    nc = await connect({
      servers: url,
      name: opts.name,
      timeout: opts.timeoutMs ?? 5000,
      reconnect: false,
      maxReconnectAttempts: 0,
    });
  } catch (e) {
    throw new ConfigError(`cannot reach NATS at ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const chunkSize = Math.max(1024, (nc.info?.max_payload ?? 1 << 20) - CHUNK_HEAD - 64);
  let closing = false;
  const closed = nc.closed().then((e) => (closing ? undefined : (e ?? new Error('the server closed the connection'))));
  return {
    publish(subject, bytes) {
      if (bytes.byteLength + 1 <= chunkSize) {
        const out = new Uint8Array(bytes.byteLength + 1);
        out[0] = WHOLE;
        out.set(bytes, 1);
        nc.publish(subject, out);
        return;
      }
      const id = randomBytes(8);
      const count = Math.ceil(bytes.byteLength / chunkSize);
      for (let i = 0; i < count; i++) {
        const part = bytes.subarray(i * chunkSize, (i + 1) * chunkSize);
        const out = new Uint8Array(CHUNK_HEAD + part.byteLength);
        const view = new DataView(out.buffer);
        out[0] = CHUNK;
        out.set(id, 1);
        view.setUint32(9, i, true);
        view.setUint32(13, count, true);
        out.set(part, CHUNK_HEAD);
        nc.publish(subject, out);
      }
    },
    subscribe(subject, handler) {
      const partial = new Map<string, Uint8Array[]>();
      const sub = nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return;
          const data = msg.data;
          if (data[0] === WHOLE) return handler(data.subarray(1), msg.subject);
          const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
          const id = Buffer.from(data.subarray(1, 9)).toString('hex');
          const index = view.getUint32(9, true);
          const count = view.getUint32(13, true);
          const parts = partial.get(id) ?? [];
          parts[index] = data.slice(CHUNK_HEAD);
          partial.set(id, parts);
          if (parts.filter(Boolean).length < count) return;
          partial.delete(id);
          handler(Buffer.concat(parts), msg.subject);
        },
      });
      return () => sub.unsubscribe();
    },
    flush: () => nc.flush(),
    closed,
    async close() {
      closing = true;
      if (!nc.isClosed()) await nc.close();
    },
  };
}
