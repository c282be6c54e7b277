// Test utilities for layers, exported as `@ganglion/layers/testing`: gradient checks of a layer (or a
// whole graph) against finite differences, for the layer tests here and for user-written layers.
export * from './layer-gradcheck.js';
