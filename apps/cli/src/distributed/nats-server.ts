// A private nats-server for one run: bound to 127.0.0.1 on a port the system picks (`-p -1`),
// named after the run (so `pgrep -f RUN` finds it), stopped by `stop()` and, should the owner die
// first, killed by the owner's exit handler. A missing binary is one ConfigError naming the
// Debian package.
//
//   const server = await startNatsServer('ganglion-pipe-3f2a');
//   ... connectNats(server.url) ...
//   await server.stop();
import { type ChildProcess, spawn } from 'node:child_process';
import { ConfigError } from '@ganglion/core';

export interface NatsServer {
  readonly url: string;
  readonly pid: number;
  /** Resolves when the server process has exited. */
  readonly exited: Promise<void>;
  stop(): Promise<void>;
}

const alive = new Set<ChildProcess>();
let exitHook = false;

/** Start nats-server on 127.0.0.1; resolves once it listens (or rejects within `timeoutMs`, default 10 s). */
export function startNatsServer(name: string, timeoutMs = 10_000): Promise<NatsServer> {
  const binary = process.env.GANGLION_NATS_SERVER ?? 'nats-server';
  return new Promise<NatsServer>((resolve, reject) => {
    const child = spawn(binary, ['-a', '127.0.0.1', '-p', '-1', '-n', name], { stdio: ['ignore', 'ignore', 'pipe'] });
    alive.add(child);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const c of alive) c.kill('SIGKILL');
      });
    }
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    void exited.then(() => alive.delete(child));
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new ConfigError(`nats-server did not start within ${timeoutMs / 1000} s: ${lastLine(log)}`));
    }, timeoutMs);
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        e.code === 'ENOENT'
          ? new ConfigError(
              `${binary} is not installed: install the Debian package nats-server (apt-get install nats-server), or pass --nats URL`,
            )
          : new ConfigError(`cannot start ${binary}: ${e.message}`),
      );
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      log += chunk;
      const m = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log);
      if (!m) return;
      clearTimeout(timer);
      child.stderr.removeAllListeners('data');
      child.stderr.resume();
      resolve({
        url: `nats://127.0.0.1:${m[1]}`,
        pid: child.pid!,
        exited,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          const late = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(late);
        },
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new ConfigError(`nats-server exited (code ${code}) before listening: ${lastLine(log)}`));
    });
  });
}

const lastLine = (log: string) => log.trim().split('\n').pop() ?? '';
