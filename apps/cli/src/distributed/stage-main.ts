// The entry point of a pipeline stage process:
//   node stage-main.js --nats URL --run RUN --stage K [--watch-stdin]
// It connects, serves its stage (stage-worker.ts) until the driver says stop, and exits. Any
// failure is one line on standard error and exit code 1; a lost connection, or (with
// --watch-stdin) the driver's end of standard input closing, ends the process at once.
import { parseArgs } from 'node:util';
import { connectNats } from './nats-link.js';
import { cliStageHost } from './stage-host.js';
import { StageWorker } from './stage-worker.js';

const { values } = parseArgs({
  options: {
    nats: { type: 'string' },
    run: { type: 'string' },
    stage: { type: 'string' },
    'watch-stdin': { type: 'boolean' },
  },
});
const stage = Number(values.stage);
const fail = (message: string): never => {
  process.stderr.write(`ganglion-stage ${values.stage ?? '?'}: ${message.split('\n')[0]}\n`);
  process.exit(1);
};
if (!values.nats || !values.run || !Number.isInteger(stage) || stage < 0)
  fail('usage: stage-main --nats URL --run RUN --stage K [--watch-stdin]');
process.title = `ganglion-stage ${stage} ${values.run}`;
if (values['watch-stdin']) {
  process.stdin.on('end', () => fail('the driver is gone (its pipe closed)'));
  process.stdin.resume();
}
try {
  const link = await connectNats(values.nats!, { name: `${values.run} stage ${stage}` });
  void link.closed.then((e) => e && fail(`lost the connection to ${values.nats}: ${e.message}`));
  await new StageWorker(link, values.run!, stage, cliStageHost).serve();
  await link.close();
  process.exit(0);
} catch (e) {
  fail(e instanceof Error ? e.message : String(e));
}
