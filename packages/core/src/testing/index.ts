// Test utilities shared by every package: the op case table, deterministic inputs, error measures.
export * from './op-cases.js';
export * from './values.js';
export * from './gradcheck.js';
export * from './test-layers.js';
