// Entry point of the `ganglion` binary (bin/ganglion.js runs the compiled form of this file).
import { main } from './cli.js';
import { endWithParent } from './malloc-tunables.js';

endWithParent();

// A reader that stops early (`ganglion train | head`) closes the pipe: the command goes on (a
// training run still saves its checkpoint), its further output dropped.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.stdout.write = () => true;
});

process.exitCode = await main(process.argv.slice(2));
