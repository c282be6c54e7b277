import { defineConfig } from 'vitest/config';
import { shared } from '../../vitest.shared.js';

// The browser test builds the site and drives Chromium: one file, a minute or two on 2 cores.
export default defineConfig({ ...shared, test: { ...shared.test, testTimeout: 180_000, hookTimeout: 180_000 } });
