// Gradient checks of a layer through the runtime's backward wave: the layer is wired into a graph
// whose loss is a fixed random weighting of every output port, trainStep delivers input gradients
// and ParamGrads, and finite differences in float64 (reference backend) check them.
import {
  type Dim,
  GraphBuilder,
  Layer,
  type LayerSignature,
  type Port,
  ReferenceBackend,
  Runtime,
  type Tensor,
  type TensorSpec,
  add,
  expectPort,
  mul,
  reduceSum,
  tensor,
  tidy,
  uniformValues,
  withBackend,
} from '@ganglion/core';
import { type InputSpec, makeInput } from '@ganglion/core/testing';

/** sum(w ⊙ x) with w fixed by `seed`: a loss with a random, non-degenerate output gradient. */
export class WeightedSum extends Layer<{ seed: number }> {
  static override readonly kind = 'WeightedSum';
  readonly inputs = [{ name: 'x' }];
  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    expectPort('x', inputs.x, 'float32');
    return { outputs: [{ name: 'y', dtype: 'float32', shape: [] }], params: [] };
  }
  forward({ x }: Readonly<Record<string, Tensor>>): Tensor {
    const w = tensor(uniformValues(this.config.seed, x.size, -1, 1), x.shape, 'float32', x.backend);
    return reduceSum(mul(x, w));
  }
}

/** a + b for scalars, to add up the probes. */
class Plus extends Layer<Record<string, never>> {
  static override readonly kind = 'Plus';
  readonly inputs = [{ name: 'a' }, { name: 'b' }];
  signature(): LayerSignature {
    return { outputs: [{ name: 'y', dtype: 'float32', shape: [] }], params: [] };
  }
  forward({ a, b }: Readonly<Record<string, Tensor>>): Tensor {
    return add(a, b);
  }
}

export interface LayerCheck {
  readonly what: string;
  readonly numeric: number;
  readonly analytic: number;
  readonly relError: number;
}

/**
 * Check every float input and every parameter of `layer`. `inputs` gives each wired port's spec;
 * `probe` lists the output ports the loss weights (default: all). `wave` options apply to every
 * forward (e.g. a fixed dropout seed).
 */
export function checkLayerGradients(
  layer: Layer,
  inputs: Readonly<Record<string, InputSpec>>,
  opts: { probe?: readonly string[]; training?: boolean; seed?: number; eps?: number } = {},
): LayerCheck[] {
  const probes =
    opts.probe ??
    layer
      .signature(
        Object.fromEntries(
          Object.entries(inputs).map(([k, s]) => [k, { shape: s.shape, dtype: s.dtype ?? 'float32' }]),
        ),
      )
      .outputs.map((o) => o.name);
  return checkGraphGradients(
    (g, ports) => {
      const node = g.node('layer', layer, ports);
      return probes.map((p) => node.out(p));
    },
    inputs,
    opts,
  );
}

/**
 * The same check for a small graph of several nodes (e.g. parameters shared through ports):
 * `wire` adds nodes fed by the graph inputs and returns the ports the loss weights. Float inputs
 * marked `noGrad` (masks) are left out.
 */
export function checkGraphGradients(
  wire: (g: GraphBuilder, inputs: Readonly<Record<string, Port>>) => readonly Port[],
  inputs: Readonly<Record<string, InputSpec>>,
  opts: { training?: boolean; seed?: number; eps?: number } = {},
): LayerCheck[] {
  const backend = new ReferenceBackend();
  return withBackend(backend, () =>
    tidy(() => {
      const g = new GraphBuilder();
      const ports: Record<string, Port> = {};
      for (const [name, spec] of Object.entries(inputs))
        ports[name] = g.input(name, spec.shape as Dim[], spec.dtype ?? 'float32');
      let total: Port | undefined;
      wire(g, ports).forEach((p, i) => {
        const probe = g.node(`probe_${p.node}_${p.port}`, new WeightedSum({ seed: 100 + i }), p);
        total = total ? g.node(`sum_${i}`, new Plus({}), total, probe) : probe;
      });
      g.output('loss', total!);
      const runtime = new Runtime(g.build(), { seed: opts.seed ?? 3, backend });
      const feeds: Record<string, Tensor> = {};
      Object.entries(inputs).forEach(([name, spec], i) => (feeds[name] = makeInput(spec, 50 + i, backend)));
      const wave = { seed: 12345 };
      const result = runtime.trainStep(feeds, { loss: 'loss', ...wave });
      const lossAt = (f: Record<string, Tensor>) =>
        tidy(() => runtime.forward(f, { training: opts.training ?? false, ...wave }).loss.dataSync()[0]);
      const eps = opts.eps ?? 1e-5;
      const checks: LayerCheck[] = [];
      const directional = (
        what: string,
        base: Tensor,
        analyticGrad: Tensor,
        at: (t: Tensor) => number,
        seed: number,
      ) => {
        const v = uniformValues(seed, base.size, -1, 1);
        const b = base.dataSync();
        const shifted = (s: number) =>
          at(
            tensor(
              b.map((x, j) => x + s * eps * v[j]),
              base.shape,
              'float32',
              backend,
            ),
          );
        const numeric = (shifted(1) - shifted(-1)) / (2 * eps);
        const gd = analyticGrad.dataSync();
        let analytic = 0;
        for (let j = 0; j < v.length; j++) analytic += gd[j] * v[j];
        checks.push({
          what,
          numeric,
          analytic,
          relError: Math.abs(numeric - analytic) / Math.max(Math.abs(numeric), Math.abs(analytic), 1e-300),
        });
      };
      Object.entries(inputs).forEach(([name, spec], i) => {
        if ((spec.dtype ?? 'float32') !== 'float32' || spec.noGrad) return;
        directional(
          `input ${name}`,
          feeds[name],
          result.inputGrads.get(name)!,
          (t) => lossAt({ ...feeds, [name]: t }),
          900 + i,
        );
      });
      runtime.params.trainableKeys().forEach((key, i) => {
        const original = runtime.params.get(key);
        directional(
          `param ${key}`,
          original,
          result.paramGrads.get(key)!,
          (t) => {
            runtime.params.set(key, t, false);
            const l = lossAt(feeds);
            runtime.params.set(key, original, false);
            return l;
          },
          700 + i,
        );
      });
      return checks;
    }),
  );
}
