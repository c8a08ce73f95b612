import ort from 'onnxruntime-web';
import type { Graph } from '../../src/graph/ir.js';
import { toOnnxBytes } from '../../src/graph/onnx-export.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { Session } from '../../src/runtime/session.js';

/**
 * One output of a graph run on the same feeds by onnxruntime-node and by onnxruntime-web's WebAssembly
 * build (one thread), which in-browser training uses: tests compare the two.
 */
export async function nodeAndWeb(
  graph: Graph,
  feeds: Record<string, Tensor>,
  output: string,
): Promise<{ node: Tensor['data']; web: unknown }> {
  const node = await Session.create(graph, { threads: 1 });
  const fromNode = (await node.run(feeds))[output].data;
  await node.release();
  ort.env.wasm.numThreads = 1;
  const web = await ort.InferenceSession.create(toOnnxBytes(graph), { executionProviders: ['wasm'] });
  const webFeeds = Object.fromEntries(
    Object.entries(feeds).map(([name, t]) => [
      name,
      new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, t.shape),
    ]),
  );
  const fromWeb = (await web.run(webFeeds))[output].data;
  await web.release();
  return { node: fromNode, web: fromWeb };
}
