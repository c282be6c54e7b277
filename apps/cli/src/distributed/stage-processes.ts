// The default StageCluster: a private nats-server on 127.0.0.1 (or the NATS server given) and one
// child process per stage (stage-main.ts), each titled `ganglion-stage K RUN` so operators and
// `pgrep -f ganglion-stage` find it. A stage's standard input is a pipe from the driver: when the
// driver dies, the stage sees it close and exits; the driver kills what is left at its own exit.
// Under the test runner (this file loaded as TypeScript) the stages run the TypeScript sources too.
//
//   const cluster = await localStageCluster({ nats: 'nats://10.0.0.5:4222' }); // or a private server: {}
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connectNats } from './nats-link.js';
import { type NatsServer, startNatsServer } from './nats-server.js';
import type { StageCluster, StageHandle } from './pipeline-stepper.js';

export interface LocalClusterOptions {
  /** An existing NATS server (default: start a private one). */
  readonly nats?: string;
}

const children = new Set<ChildProcess>();
let exitHook = false;

export async function localStageCluster(opts: LocalClusterOptions = {}): Promise<StageCluster> {
  const run = `ganglion-pipe-${randomBytes(4).toString('hex')}`;
  const server: NatsServer | undefined = opts.nats ? undefined : await startNatsServer(run);
  const url = opts.nats ?? server!.url;
  let link;
  try {
    link = await connectNats(url, { name: `${run} driver` });
  } catch (e) {
    await server?.stop();
    throw e;
  }
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of children) c.kill('SIGKILL');
    });
  }
  return {
    link,
    run,
    where: opts.nats ? url : `the private nats-server at ${url}`,
    start: (k) => startStage(url, run, k),
    async close() {
      await link.close();
      await server?.stop();
    },
  };
}

function startStage(url: string, run: string, k: number): StageHandle {
  const child = spawn(
    process.execPath,
    [...stageEntry(), '--nats', url, '--run', run, '--stage', String(k), '--watch-stdin'],
    {
      stdio: ['pipe', 'ignore', 'pipe'],
    },
  );
  children.add(child);
  let err = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => (err = (err + s).slice(-4000)));
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      const last = err.trim().split('\n').pop() ?? '';
      resolve(signal ? `was killed by ${signal}` : `exited with code ${code}${last ? `: ${last}` : ''}`);
    }),
  );
  return {
    pid: child.pid,
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Node's arguments that run stage-main: the compiled file, or the TypeScript source through jiti. */
function stageEntry(): string[] {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return [fileURLToPath(new URL('./stage-main.js', here))];
  const jiti = join(dirname(createRequire(here).resolve('jiti/package.json')), 'lib', 'jiti-register.mjs');
  return [
    '--conditions=@ganglion/source',
    '--import',
    pathToFileURL(jiti).href,
    fileURLToPath(new URL('./stage-main.ts', here)),
  ];
}
