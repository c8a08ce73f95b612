import type { Dim, Graph } from '../graph/ir.js';
import { toOnnxBytes } from '../graph/onnx-export.js';
import { allocData, numel, type Tensor } from '../graph/tensor.js';
import { Session } from './session.js';

/**
 * Static shapes of every value in a graph, read off ONNX Runtime itself: the graph runs once at batch 1
 * and once at batch 2 (the input dims named 'N') with every value exposed, and a dimension that changes
 * with the batch becomes the symbol 'N'. This covers every op ORT knows, which hand-written shape inference would not.
 */
export async function probeShapes(g: Graph): Promise<Map<string, Dim[]>> {
  const shapes = new Map<string, Dim[]>();
  for (const [name, t] of g.initializers) shapes.set(name, [...t.shape]);
  for (const inp of g.inputs) shapes.set(inp.name, [...inp.shape]);
  const declared = new Set(g.outputs.map((o) => o.name));
  const hidden = g.nodes.flatMap((n) => n.outputs).filter((o) => o && !shapes.has(o) && !declared.has(o));
  const bytes = toOnnxBytes(g, { untypedOutputs: hidden });
  const session = await Session.create(bytes, { optimization: 'disabled', threads: 1 });
  const runAt = (batch: number) => {
    const feeds: Record<string, Tensor> = {};
    for (const inp of g.inputs) {
      const shape = inp.shape.map((d, i) => {
        if (typeof d === 'number') return d;
        if (d === 'N') return batch;
        throw new Error(
          `probeShapes: input '${inp.name}' has symbolic dim '${d}' at axis ${i}; only the batch 'N' may be symbolic, so fix the image size first`,
        );
      });
      feeds[inp.name] = { dtype: inp.dtype, shape, data: allocData(inp.dtype, numel(shape)) };
    }
    return session.run(feeds);
  };
  try {
    const a = await runAt(1);
    const b = await runAt(2);
    for (const name of [...hidden, ...declared]) {
      const sb = b[name].shape;
      shapes.set(
        name,
        a[name].shape.map((d, i) => (d === sb[i] ? d : 'N')),
      );
    }
  } finally {
    await session.release();
  }
  return shapes;
}
