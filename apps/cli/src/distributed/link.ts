// What pipeline stages and their driver need from a message bus: publish bytes on a subject,
// subscribe with a callback (called in arrival order, so what one sender publishes arrives in the
// order it was sent, whatever the subjects), flush, and notice the end of the connection. NATS
// provides it across processes and machines (nats-link.ts); `memoryHub` provides it inside one
// process, for tests of the protocol without a server.
//
//   const hub = memoryHub();
//   const a = hub.link(), b = hub.link();
//   b.subscribe('run.act.>', (bytes, subject) => ...);
//   a.publish('run.act.embed.y', bytes);

export interface Link {
  publish(subject: string, bytes: Uint8Array): void;
  /** Call `handler` for each message on `subject` (`*` matches one token, `>` the rest); returns the unsubscribe. */
  subscribe(subject: string, handler: (bytes: Uint8Array, subject: string) => void): () => void;
  /** Resolves once the bus has every subscription and message sent so far. */
  flush(): Promise<void>;
  /** Resolves when the connection ends: undefined when closed on purpose, else the reason. */
  readonly closed: Promise<Error | undefined>;
  close(): Promise<void>;
}

/** Whether a subject matches a pattern with NATS wildcards. */
function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

/** An in-process bus: every link it makes sees the others' messages, delivered on a later tick. */
export function memoryHub(): { link(): Link } {
  const subs = new Set<{ pattern: string; handler: (bytes: Uint8Array, subject: string) => void }>();
  return {
    link(): Link {
      const mine = new Set<{ pattern: string; handler: (bytes: Uint8Array, subject: string) => void }>();
      let end!: (e: Error | undefined) => void;
      const closed = new Promise<Error | undefined>((r) => (end = r));
      return {
        publish(subject, bytes) {
          const copy = bytes.slice();
          const targets = [...subs].filter((s) => subjectMatches(s.pattern, subject));
          setImmediate(() => {
            for (const t of targets) if (subs.has(t)) t.handler(copy, subject);
          });
        },
        subscribe(pattern, handler) {
          const s = { pattern, handler };
          subs.add(s);
          mine.add(s);
          return () => {
            subs.delete(s);
            mine.delete(s);
          };
        },
        flush: () => new Promise((r) => setImmediate(r)),
        closed,
        close: async () => {
          for (const s of mine) subs.delete(s);
          end(undefined);
        },
      };
    },
  };
}
