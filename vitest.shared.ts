// One vitest configuration for every package: resolve workspace packages to their TypeScript
// sources (the "@ganglion/source" export condition), so tests never need a prior build.
import type { ViteUserConfig as UserConfig } from 'vitest/config';

export const shared: UserConfig = {
  resolve: { conditions: ['@ganglion/source'] },
  ssr: { resolve: { conditions: ['@ganglion/source'], externalConditions: ['@ganglion/source'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
  },
};
