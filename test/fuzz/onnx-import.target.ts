// Fuzz target: the ONNX importer (protobuf decoding, tensors, attributes, value infos).
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { attr } from '../../src/graph/ir.js';
import { toOnnxBytes } from '../../src/graph/onnx-export.js';
import { fromOnnxBytes } from '../../src/graph/onnx-import.js';
import { f32 } from '../../src/graph/tensor.js';
import type { Rng } from '../../src/random/rng.js';
import { everyAttributeGraph } from '../graph/every-attribute.js';
import { checkTensor, type FuzzTarget } from './harness.js';
import { mutate, pick } from './mutate.js';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

const ours = (() => {
  const g = everyAttributeGraph();
  g.initializers.set('half', { dtype: 'float16', shape: [2], data: Uint16Array.of(0x3c00, 0xc000) });
  g.add('Constant', [], { outputs: ['k'], attrs: { value: attr.tensor(f32([1, 2], [0.5, 2])) } });
  g.add('Mul', ['y', 'k'], { outputs: ['z'] });
  g.outputs = [{ name: 'z', dtype: 'float32', shape: ['N', 2] }];
  return toOnnxBytes(g);
})();
/** Tensors in the typed fields rather than raw_data, as some exporters write them. */
const typed = onnx.ModelProto.encode({
  irVersion: 8,
  opsetImport: [{ version: 13 }],
  graph: {
    node: [
      { opType: 'Add', input: ['a', 'b'], output: ['c'] },
      {
        opType: 'Constant',
        output: ['k'],
        attribute: [{ name: 'value', type: 3, t: { dims: [2], dataType: T.DOUBLE, doubleData: [1.5, -2] } }],
      },
    ],
    initializer: [
      { name: 'a', dims: [2, 2], dataType: T.FLOAT, floatData: [1, 2, 3, 4] },
      { name: 'b', dims: [2], dataType: T.INT64, int64Data: [5, -6] },
      { name: 'm', dims: [3], dataType: T.BOOL, int32Data: [1, 0, 1] },
    ],
    output: [
      {
        name: 'c',
        type: { tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimValue: 2 }, { dimParam: 'M' }] } } },
      },
    ],
  },
}).finish();
// torch.onnx.export (PyTorch 1.13) of a small conv net; see seeds/README.md.
const exported = new Uint8Array(
  readFileSync(new URL('../../../test/fuzz/seeds/torch-export.onnx', import.meta.url)),
);
const files = [ours, typed, exported];

const DIMS = [[1e6, 1e6], [-1], [2 ** 40], [0], [], [3], [2, 2], [1e4, 1e4, 10]];

/** Rewrites one field of one tensor (an initializer or a tensor attribute) and re-encodes the model. */
function editTensor(rng: Rng, file: Uint8Array): Uint8Array {
  const model = onnx.ModelProto.decode(file);
  const graph = model.graph!;
  const tensors = [
    ...(graph.initializer ?? []),
    ...(graph.node ?? []).flatMap((n) => (n.attribute ?? []).flatMap((a) => (a.t ? [a.t] : []))),
  ];
  if (!tensors.length) return file;
  const t = pick(rng, tensors);
  switch (rng.int(5)) {
    case 0:
      t.dims = pick(rng, DIMS);
      break;
    case 1:
      t.dataType = rng.int(20);
      break;
    case 2:
      t.rawData = (t.rawData ?? new Uint8Array(8)).subarray(0, rng.int((t.rawData?.length ?? 8) + 2));
      break;
    case 3:
      t.floatData = Array.from({ length: rng.int(6) }, () => rng.next());
      t.rawData = new Uint8Array(0);
      break;
    default:
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  }
  return onnx.ModelProto.encode(model).finish();
}

const target: FuzzTarget = {
  where: 'fuzz.onnx',
  generate(rng) {
    const file = pick(rng, files);
    return rng.int(3) ? mutate(rng, file, files) : editTensor(rng, file);
  },
  decode(input, where) {
    const g = fromOnnxBytes(input, where);
    for (const [name, t] of g.initializers) checkTensor(name, t);
    for (const n of g.nodes)
      for (const a of Object.values(n.attrs)) if (a.kind === 'tensor') checkTensor(n.name, a.value);
  },
};
export default target;
