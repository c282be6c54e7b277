// @ganglion/bench: the harness behind `ganglion bench`. The CLI parses the flags and calls
// runBench; the contenders, their child processes, the workloads and the report live here.
export { CONTENDER_NAMES } from './contenders.js';
export { type BenchOptions, WORKLOAD_CHOICES, type WorkloadChoice, runBench } from './run-bench.js';
