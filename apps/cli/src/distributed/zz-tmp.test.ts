import { test } from 'vitest';
import { ReferenceBackend, Runtime, createTrainer, tensor } from '@ganglion/core';
import { charLstm } from '@ganglion/layers';
import { memoryHub } from './link.js';
import { pipelineStepper } from './pipeline-stepper.js';
import { cliStageHost } from './stage-host.js';
import { StageWorker } from './stage-worker.js';
test('lstm', async () => {
  const backend = new ReferenceBackend();
  const graph = charLstm(16, [32])(28);
  const rt = new Runtime(graph, { seed: 3, backend });
  const t = createTrainer({ lr: 1e-2, backend });
  const hub = memoryHub();
  const host = { ...cliStageHost, createBackend: async () => backend };
  const s = await pipelineStepper(rt, t, { stages: 2, microBatches: 2, backend: 'reference', cluster: { link: hub.link(), run: 'm', where: 'mem', start: (k) => ({ exited: new StageWorker(hub.link(), 'm', k, host).serve().then(() => 'stopped'), kill: () => {} }), close: async () => {} } });
  const ids = tensor(Array.from({ length: 64 }, (_, i) => i % 28), [4, 16], 'int32', backend);
  console.log(await s.step({ ids, labels: ids }));
  await s.close();
});
