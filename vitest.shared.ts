// One vitest configuration for every package: resolve workspace packages to their TypeScript
// sources (the "@ganglion/source" export condition), so tests never need a prior build.
import type { ViteUserConfig as UserConfig } from 'vitest/config';

export const shared: UserConfig = {
  resolve: { conditions: ['@ganglion/source'] },
  ssr: { resolve: { conditions: ['@ganglion/source'], externalConditions: ['@ganglion/source'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    // onnxruntime's threads sleep between ops (Ganglion's Node entry spins them otherwise): tests
    // run several processes at once on few cores, where spinning threads slow each other down.
    env: { OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' },
    testTimeout: 60_000,
  },
};
