import onnxProto from 'onnx-proto';
import { attr, Graph, type Attr, type Dim, type ValueInfo } from './ir.js';
import { dtypeFromOnnx } from './onnx-dtypes.js';
import { printable } from './printable.js';
import { allocData, BYTES_PER_ELEMENT, numel, type Tensor } from './tensor.js';

const { onnx } = onnxProto;
const A = onnx.AttributeProto.AttributeType;
type Long = { toNumber(): number };

const num = (v: number | Long | null | undefined): number =>
  v == null ? 0 : typeof v === 'number' ? v : v.toNumber();

/**
 * Copies a TensorProto's data. Its dims are checked against the data it actually holds before
 * anything is allocated, so a tiny file declaring huge dims is refused rather than allocated.
 */
function readTensor(p: onnxProto.onnx.ITensorProto, where: string): Tensor {
  const bad = (problem: string): never => {
    throw new Error(`${where}: tensor '${printable(p.name ?? '')}' ${problem}`);
  };
  if (p.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    bad('uses external data, which is not supported; re-save the model with weights embedded');
  }
  const dtype = dtypeFromOnnx(p.dataType ?? 0, where);
  const shape = (p.dims ?? []).map(num);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`has invalid dims [${shape}]`);
  const n = numel(shape);
  const raw = p.rawData?.length ? p.rawData : undefined;
  // int32, int8, uint8, bool, float16 and bfloat16 all travel in int32_data.
  const typed =
    dtype === 'float32'
      ? p.floatData
      : dtype === 'float64'
        ? p.doubleData
        : dtype === 'int64'
          ? p.int64Data
          : p.int32Data;
  const held = raw ? raw.length / BYTES_PER_ELEMENT[dtype] : (typed?.length ?? 0);
  if (held !== n) {
    bad(
      raw
        ? `has ${raw.length} bytes of data for shape [${shape}] of ${dtype}`
        : `has ${held} values for shape [${shape}] (${n} elements) of ${dtype}`,
    );
  }
  const data = allocData(dtype, n);
  if (raw) new Uint8Array(data.buffer).set(raw);
  else if (dtype === 'int64') {
    const out = data as BigInt64Array;
    (typed as (number | Long)[]).forEach((v, i) => (out[i] = BigInt(v.toString())));
  } else (data as Exclude<typeof data, BigInt64Array>).set(typed as number[]);
  return { dtype, shape, data };
}

function readAttr(a: onnxProto.onnx.IAttributeProto, where: string): Attr {
  switch (a.type) {
    case A.INT:
      return attr.int(num(a.i));
    case A.FLOAT:
      return attr.float(a.f ?? 0);
    case A.INTS:
      return attr.ints((a.ints ?? []).map(num));
    case A.FLOATS:
      return attr.floats([...(a.floats ?? [])]);
    case A.STRING:
      return attr.string(new TextDecoder().decode(a.s ?? new Uint8Array()));
    case A.TENSOR:
      return attr.tensor(readTensor(a.t ?? {}, where));
    default:
      throw new Error(
        `${where}: attribute '${printable(a.name ?? '')}' has type ${A[a.type ?? 0]}, which is not supported`,
      );
  }
}

function readValueInfo(v: onnxProto.onnx.IValueInfoProto, where: string): ValueInfo {
  const t = v.type?.tensorType;
  if (!t) throw new Error(`${where}: value '${printable(v.name ?? '')}' is not a tensor`);
  const shape: Dim[] = (t.shape?.dim ?? []).map((d, i) =>
    d.dimParam ? d.dimParam : d.dimValue != null ? num(d.dimValue) : `d${i}`,
  );
  return { name: v.name ?? '', dtype: dtypeFromOnnx(t.elemType ?? 0, where), shape };
}

/** Reads an ONNX model (bytes of a ModelProto) into the IR. `where` names the file in errors. */
export function fromOnnxBytes(bytes: Uint8Array, where = 'onnx model'): Graph {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(`${where}: not a valid ONNX file (${(e as Error).message})`);
  }
  const gp = model.graph;
  if (!gp || !gp.node?.length) throw new Error(`${where}: not a valid ONNX file (no graph nodes)`);
  const g = new Graph();
  const defaultOpset = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  g.opset = defaultOpset ? num(defaultOpset.version) : 13;
  for (const init of gp.initializer ?? []) g.initializers.set(init.name ?? '', readTensor(init, where));
  g.inputs = (gp.input ?? [])
    .filter((v) => !g.initializers.has(v.name ?? ''))
    .map((v) => readValueInfo(v, where));
  g.outputs = (gp.output ?? []).map((v) => readValueInfo(v, where));
  gp.node.forEach((n, k) => {
    const node = {
      name: n.name || `${n.opType}_${k}`,
      op: n.opType ?? '',
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attrs: Object.fromEntries(
        (n.attribute ?? []).map((a) => [
          a.name ?? '',
          readAttr(a, `${where} node '${printable(n.name ?? '')}'`),
        ]),
      ),
    };
    g.nodes.push(n.domain ? { ...node, domain: n.domain } : node);
  });
  return g;
}
