import { attr, type Graph } from '../graph/ir.js';
import { i64 } from '../graph/tensor.js';

export interface ClassifierGraphOptions {
  /** The image input's name: 'input' as ours, 'pixel_values' as transformers.js feeds it. */
  input: string;
  /** The run's input [height, width], which the graph's input then declares. */
  size: [number, number];
  /** The run's test-time flip: the mirror image runs in the same call and the probabilities average both. */
  tta: boolean;
  /**
   * 'probabilities': a `probabilities` output beside the image's own `logits` (our v2 endpoint's two
   * outputs). 'log-probabilities': `logits` are the log of the run's probabilities, so a consumer that
   * takes the softmax of the logits (transformers.js) gets the run's probabilities, flip included.
   */
  outputs: 'probabilities' | 'log-probabilities';
}

/**
 * A run's merged model as a deployable classifier that decides as the run does (see classify.ts): the
 * input renamed, the `features` output dropped, and the softmax (and the run's test-time flip) inside
 * the graph, so a server or library that only runs the file needs no code of ours.
 */
export function classifierGraph(merged: Graph, o: ClassifierGraphOptions): Graph {
  const g = merged.clone();
  const input = g.inputs[0];
  const logits = g.outputs.find((v) => v.name === 'logits');
  if (g.inputs.length !== 1 || !logits)
    throw new Error(
      `the model has inputs [${g.inputs.map((i) => i.name)}] and outputs [${g.outputs.map((v) => v.name)}], not one image input and 'logits'`,
    );
  const classes = logits.shape[1];
  const width = o.size[1];
  input.shape = [input.shape[0], 3, ...o.size];
  const inner = g.fresh('input.inner');
  g.replaceUses(input.name, inner);
  input.name = o.input;
  const rawLogits = g.fresh('logits.raw');
  for (const n of g.nodes) n.outputs = n.outputs.map((v) => (v === 'logits' ? rawLogits : v));
  g.replaceUses('logits', rawLogits);

  let own = rawLogits;
  let probs: string;
  const softmax = (v: string) => g.op('Softmax', [v], { axis: attr.int(-1) });
  if (o.tta) {
    // [x; mirror(x)] in one call, as withViews builds it; the views' logits are rows [0, N) and [N, 2N).
    const mirror = g.op('Slice', [
      o.input,
      g.constant(i64([1], [-1]), 'flip.starts'),
      g.constant(i64([1], [-(width + 1)]), 'flip.ends'),
      g.constant(i64([1], [3]), 'flip.axes'),
      g.constant(i64([1], [-1]), 'flip.steps'),
    ]);
    g.add('Concat', [o.input, mirror], { outputs: [inner], attrs: { axis: attr.int(0) } });
    const views = g.op('Reshape', [rawLogits, g.constant(i64([3], [2, -1, Number(classes)]), 'views.shape')]);
    const view = (k: number) =>
      g.op('Gather', [views, g.constant(i64([], [k]), `view${k}`)], { axis: attr.int(0) });
    own = view(0);
    probs = g.op('Mul', [
      g.op('Add', [softmax(own), softmax(view(1))]),
      g.constant({ dtype: 'float32', shape: [], data: Float32Array.of(0.5) }, 'half'),
    ]);
  } else {
    g.add('Identity', [o.input], { outputs: [inner] });
    probs = softmax(own);
  }
  const shape = ['N', classes];
  if (o.outputs === 'probabilities') {
    g.add('Identity', [own], { outputs: ['logits'] });
    g.add('Identity', [probs], { outputs: ['probabilities'] });
    g.outputs = [
      { name: 'logits', dtype: 'float32', shape },
      { name: 'probabilities', dtype: 'float32', shape },
    ];
  } else {
    g.add(o.tta ? 'Log' : 'Identity', [o.tta ? probs : own], { outputs: ['logits'] });
    g.outputs = [{ name: 'logits', dtype: 'float32', shape }];
  }
  g.sort();
  g.prune();
  return g;
}
