// The layers' ContainerModule: every built-in layer class bound to TOKENS.LayerClass (a
// multi-binding; a user binds their own classes the same way), and the LayerResolver that
// checkpoints use to turn a `kind` back into a class.
import { type Container, ContainerModule } from 'inversify';
import { type LayerClass, type LayerResolver, TOKENS } from '@ganglion/core';
import { builtinLayers } from './index.js';

export const layersModule = new ContainerModule(({ bind }) => {
  for (const cls of builtinLayers) bind(TOKENS.LayerClass).toConstantValue(cls);
});

/** A resolver over every LayerClass bound in the container (the last binding of a kind wins). */
export function bindLayerResolver(container: Container): void {
  if (container.isBound(TOKENS.LayerResolver)) return;
  container.bind(TOKENS.LayerResolver).toDynamicValue((): LayerResolver => {
    const classes = container.getAll<LayerClass<object>>(TOKENS.LayerClass);
    const byKind = new Map(classes.map((c) => [c.kind, c]));
    return (kind) => byKind.get(kind);
  });
}
