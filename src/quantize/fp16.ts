import type { Graph } from '../graph/ir.js';
import { attr } from '../graph/ir.js';
import { onnxDataType } from '../graph/onnx-dtypes.js';
import { fromOnnxBytes } from '../graph/onnx-import.js';
import { floatToHalf, type Tensor } from '../graph/tensor.js';

const HALF_MAX = 65504;

/** The float32 tensor in IEEE half (round to nearest even); throws if a value would overflow to infinity. */
export function toHalf(t: Tensor<'float32'>, name: string): Tensor<'float16'> {
  const data = new Uint16Array(t.data.length);
  for (let i = 0; i < data.length; i++) {
    const v = t.data[i];
    if (Math.abs(v) > HALF_MAX)
      throw new Error(`fp16: initializer '${name}' holds ${v}, beyond float16's ±${HALF_MAX}`);
    data[i] = floatToHalf(v);
  }
  return { dtype: 'float16', shape: [...t.shape], data };
}

/**
 * Float16 storage: every float32 initializer is stored in half precision and widened back by a Cast
 * node, so the file is half the size while inputs, outputs and all arithmetic stay float32.
 *
 * Why not float16 arithmetic: onnxruntime-node 1.30 on x86-64 and onnxruntime-web 1.30 (wasm) have no
 * float16 kernels for Conv, Gemm, MatMul, Add, Relu, MaxPool or GlobalAveragePool (only Clip and layout
 * ops such as Flatten); ORT wraps each such node in Casts itself. A graph computed in float16 is therefore
 * slower than float32 on both providers and rounds every activation for nothing. Here ORT folds the
 * weight Casts into float32 constants when the session is built, so inference runs at float32 speed.
 */
export function toFloat16(model: Graph | Uint8Array): Graph {
  const g = model instanceof Uint8Array ? fromOnnxBytes(model) : model;
  const out = g.clone();
  const nodes = [];
  for (const [name, t] of g.initializers) {
    if (t.dtype !== 'float32') continue;
    const half = out.fresh(`${name}.fp16`);
    out.initializers.delete(name);
    out.initializers.set(half, toHalf(t as Tensor<'float32'>, name));
    nodes.push({
      name: out.fresh(`${name}.cast`),
      op: 'Cast',
      inputs: [half],
      outputs: [name],
      attrs: { to: attr.int(onnxDataType('float32')) },
    });
  }
  out.nodes = [...nodes, ...out.nodes];
  return out;
}
