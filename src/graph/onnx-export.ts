import onnxProto from 'onnx-proto';
import type { Attr, Graph, ValueInfo } from './ir.js';
import { onnxDataType } from './onnx-dtypes.js';
import type { Tensor } from './tensor.js';

const { onnx } = onnxProto;
const A = onnx.AttributeProto.AttributeType;

function tensorProto(name: string, t: Tensor): onnxProto.onnx.ITensorProto {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return { name, dims: t.shape, dataType: onnxDataType(t.dtype), rawData: bytes };
}

function attrProto(name: string, a: Attr): onnxProto.onnx.IAttributeProto {
  switch (a.kind) {
    case 'int':
      return { name, type: A.INT, i: a.value };
    case 'float':
      return { name, type: A.FLOAT, f: a.value };
    case 'ints':
      return { name, type: A.INTS, ints: a.value };
    case 'floats':
      return { name, type: A.FLOATS, floats: a.value };
    case 'string':
      return { name, type: A.STRING, s: new TextEncoder().encode(a.value) };
    case 'tensor':
      return { name, type: A.TENSOR, t: tensorProto('', a.value) };
  }
}

function valueInfo(v: ValueInfo): onnxProto.onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: onnxDataType(v.dtype),
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/**
 * Serialises the graph as an ONNX ModelProto, ready for `InferenceSession.create(bytes)`.
 * `untypedOutputs` adds outputs whose type ORT infers (used to expose intermediate values).
 */
export function toOnnxBytes(g: Graph, opts: { untypedOutputs?: string[] } = {}): Uint8Array {
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 8,
    producerName: 'smoker-lora',
    opsetImport: [{ domain: '', version: g.opset }],
    graph: {
      name: 'smoker-lora',
      node: g.nodes.map((n) => ({
        name: n.name,
        opType: n.op,
        domain: n.domain ?? '',
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs).map(([k, a]) => attrProto(k, a)),
      })),
      input: g.inputs.map(valueInfo),
      output: [...g.outputs.map(valueInfo), ...(opts.untypedOutputs ?? []).map((name) => ({ name }))],
      initializer: [...g.initializers].map(([name, t]) => tensorProto(name, t)),
    },
  };
  return onnx.ModelProto.encode(model).finish();
}
