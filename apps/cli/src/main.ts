// Entry point of the `ganglion` binary (bin/ganglion.js runs the compiled form of this file).
import { main } from './cli.js';

process.exitCode = await main(process.argv.slice(2));
