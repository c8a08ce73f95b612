import assert from 'node:assert/strict';
import { test } from 'node:test';
import onnxProto from 'onnx-proto';
import { fromOnnxBytes } from '../../src/graph/onnx-import.js';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

/** A one-node model (Identity of the initializer `w`) whose initializer is exactly `w`. */
function modelWith(w: onnxProto.onnx.ITensorProto): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ version: 13 }],
    graph: {
      node: [{ opType: 'Identity', input: ['w'], output: ['y'] }],
      initializer: [{ name: 'w', ...w }],
      output: [{ name: 'y', type: { tensorType: { elemType: T.FLOAT, shape: { dim: [] } } } }],
    },
  }).finish();
}

test('initializers whose dims promise more than their data are refused before allocation', () => {
  const cases: [onnxProto.onnx.ITensorProto, RegExp][] = [
    // 10^12 floats and no data at all: once an allocation of 4 TB.
    [{ dims: [1e6, 1e6], dataType: T.FLOAT }, /tensor 'w' has 0 values for shape \[1000000,1000000\]/],
    [
      { dims: [1e4, 1e4, 10], dataType: T.FLOAT, floatData: [1, 2] },
      /has 2 values for shape \[10000,10000,10\]/,
    ],
    [
      { dims: [2 ** 40], dataType: T.INT64, rawData: new Uint8Array(16) },
      /has 16 bytes of data for shape \[1099511627776\] of int64/,
    ],
    [{ dims: [-1], dataType: T.FLOAT, floatData: [1] }, /tensor 'w' has invalid dims \[-1\]/],
    [
      { dims: [3], dataType: T.FLOAT, floatData: [1, 2, 3, 4] },
      /has 4 values for shape \[3\] \(3 elements\)/,
    ],
    // Found by fuzzing: names are the file's bytes, so they are escaped to keep the message one line.
    [
      { name: 'w\n\u0000', dims: [1], dataType: T.FLOAT },
      /^hostile\.onnx: tensor 'w\\u000a\\u0000' has 0 values/,
    ],
  ];
  for (const [w, problem] of cases) {
    const rss = process.resourceUsage().maxRSS;
    const start = performance.now();
    assert.throws(
      () => fromOnnxBytes(modelWith(w), 'hostile.onnx'),
      (e: Error) => {
        assert.match(e.message, /^hostile\.onnx: /);
        assert.match(e.message, problem);
        return true;
      },
    );
    assert.ok(performance.now() - start < 1000);
    assert.ok((process.resourceUsage().maxRSS - rss) / 1024 < 100);
  }
});

test('typed data fields are read at full precision', () => {
  const g = fromOnnxBytes(
    // protobufjs encodes int64 from decimal strings; 2^53 + 1 has no exact double.
    modelWith({ dims: [2], dataType: T.INT64, int64Data: ['9007199254740993', '-3'] as unknown as number[] }),
  );
  assert.deepEqual([...(g.initializers.get('w')?.data ?? [])], [2n ** 53n + 1n, -3n]);
  const h = fromOnnxBytes(modelWith({ dims: [1, 2], dataType: T.FLOAT16, int32Data: [0x3c00, 0xc000] }));
  assert.deepEqual(h.initializers.get('w'), {
    dtype: 'float16',
    shape: [1, 2],
    data: Uint16Array.of(0x3c00, 0xc000),
  });
});
