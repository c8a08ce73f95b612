import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { floatToBfloat16, floatToHalf, i64, type Tensor, tensor, toFloat32 } from '../../src/graph/tensor.js';
import { readSafetensors, writeSafetensors } from '../../src/weights/safetensors.js';
import { loadSafetensors } from '../../src/weights/safetensors-file.js';
import { sharedPath } from '../helpers/shared.js';

const everyDtype = new Map<string, Tensor>([
  ['f32', tensor('float32', [2, 2], Float32Array.of(1.5, -0, Infinity, NaN))],
  ['f64', tensor('float64', [3], Float64Array.of(0.1, -1e300, Number.MIN_VALUE))],
  ['f16', tensor('float16', [2], Uint16Array.of(floatToHalf(65504), floatToHalf(-(2 ** -24))))],
  ['bf16', tensor('bfloat16', [1, 2], Uint16Array.of(floatToBfloat16(3.140625), 0x7fc1))],
  ['i64', i64([2], [-(2n ** 63n), 2n ** 63n - 1n])],
  ['i32', tensor('int32', [], Int32Array.of(-(2 ** 31)))],
  ['u8', tensor('uint8', [0, 4], new Uint8Array(0))],
  ['bool', tensor('bool', [3], Uint8Array.of(1, 0, 1))],
  // Integer-like names would jump to the front of a plain JS object; order must still hold.
  ['10', tensor('uint8', [1], Uint8Array.of(10))],
  ['2', tensor('uint8', [1], Uint8Array.of(2))],
]);

test('every dtype round-trips bit for bit, in order, with metadata', () => {
  const file = writeSafetensors(everyDtype, { format: 'pt', note: 'héllo' });
  const back = readSafetensors(file, 'mem.safetensors');
  assert.deepEqual([...back.tensors.keys()], [...everyDtype.keys()]);
  assert.deepEqual(back.tensors, everyDtype);
  assert.deepEqual(back.metadata, { format: 'pt', note: 'héllo' });
  assert.deepEqual(readSafetensors(writeSafetensors({}), 'empty').tensors, new Map());
});

test('a tiny file matches the spec byte for byte', () => {
  const file = writeSafetensors({ w: tensor('float32', [2], Float32Array.of(1, -2)) }, { k: 'v' });
  // 79 bytes of JSON, padded with one space to 80 so the data starts 8-aligned at byte 88.
  const json = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}}';
  const expected = Buffer.concat([
    Buffer.from('5000000000000000', 'hex'),
    Buffer.from(`${json} `, 'ascii'),
    Buffer.from('0000803f000000c0', 'hex'),
  ]);
  assert.equal(json.length, 79);
  assert.deepEqual(Buffer.from(file), expected);
});

test('data is copied out of unaligned input into aligned arrays', () => {
  // A 61-byte header (legal, just unpadded) puts the float64 at file offset 69; then shift by 1 more.
  const json = '{"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}     ';
  const raw = Buffer.alloc(1 + 8 + json.length + 16);
  raw.writeBigUInt64LE(BigInt(json.length), 1);
  raw.write(json, 9, 'ascii');
  raw.writeDoubleLE(Math.PI, 9 + json.length);
  raw.writeDoubleLE(-1, 17 + json.length);
  const x = readSafetensors(raw.subarray(1), 'odd').tensors.get('x');
  assert.deepEqual(x?.data, Float64Array.of(Math.PI, -1));
});

/** A file with the given header object and `dataLen` zero bytes of data. */
function fileWith(header: unknown, dataLen: number): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + dataLen);
  out.writeBigUInt64LE(BigInt(json.length));
  json.copy(out, 8);
  return out;
}

const f32 = (begin: number, end: number, shape = [(end - begin) / 4]) => ({
  dtype: 'F32',
  shape,
  data_offsets: [begin, end],
});

test('corrupt files are rejected with the file name and the problem', () => {
  const header = (json: string) => {
    const b = Buffer.alloc(8 + json.length);
    b.writeBigUInt64LE(BigInt(json.length));
    b.write(json, 8);
    return b;
  };
  const cases: [Uint8Array, RegExp][] = [
    [
      Uint8Array.of(1, 2, 3),
      /^Error: bad\.st: truncated safetensors file: 3 bytes, the header length alone needs 8$/,
    ],
    [
      fileWith({ a: f32(0, 4) }, 4).subarray(0, 20),
      /^Error: bad\.st: header length 54 runs past the end of the 20-byte file/,
    ],
    [
      Buffer.from('ffffffffffffffff00', 'hex'),
      /header length 18446744073709551615 runs past the end of the 9-byte file/,
    ],
    [header('{"a": {'), /^Error: bad\.st: invalid JSON header: /],
    [header('[1, 2]'), /^Error: bad\.st: header is not a JSON object$/],
    [
      fileWith({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1),
      /^Error: bad\.st: tensor 'a': unknown dtype "F8_E4M3" \(supported: F32, F64, F16, BF16, I64, I32, I8, U8, BOOL\)$/,
    ],
    [
      fileWith({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4),
      /tensor 'a': shape \[-1\] is not a list of non-negative integers/,
    ],
    [
      fileWith({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, 4),
      /tensor 'a': data_offsets \[4,0\] is not a \[begin, end\] pair/,
    ],
    [
      fileWith({ a: f32(0, 8, [3]) }, 8),
      /^Error: bad\.st: tensor 'a': data_offsets \[0, 8\] span 8 bytes but F32 \[3\] needs 12$/,
    ],
    [
      fileWith({ a: f32(0, 8) }, 4),
      /^Error: bad\.st: tensor 'a': data_offsets \[0, 8\] lie outside the 4-byte data buffer \(truncated file\?\)$/,
    ],
    [
      fileWith({ a: f32(0, 8), b: f32(4, 12) }, 12),
      /^Error: bad\.st: tensor 'b': data_offsets \[4, 12\] overlap the previous tensor; expected to start at 8$/,
    ],
    [
      fileWith({ a: f32(0, 4), b: f32(8, 12) }, 12),
      /^Error: bad\.st: tensor 'b': data_offsets \[8, 12\] leave a gap; expected to start at 4$/,
    ],
    [fileWith({ a: f32(0, 4) }, 8), /^Error: bad\.st: tensors cover 4 bytes but the data buffer has 8$/],
    [
      fileWith({ __metadata__: { n: 1 } }, 0),
      /^Error: bad\.st: __metadata__ must be an object of string values$/,
    ],
    // Found by fuzzing: V8's JSON errors quote raw bytes, newlines included; keep the message one line.
    [header('{"a": \n\x00}'), /^Error: bad\.st: invalid JSON header: [^\n]*\\u000a[^\n]*$/],
    [fileWith({ 'a\nb': { dtype: 'F8' } }, 0), /^Error: bad\.st: tensor 'a\\u000ab': unknown dtype "F8"/],
    // Found while fuzzing: a value nested past JSON.stringify's recursion limit, or an array as dtype.
    [
      header(`{"a": {"dtype": ${'['.repeat(100_000)}${']'.repeat(100_000)}}}`),
      /^Error: bad\.st: tensor 'a': unknown dtype a value nested too deeply to print \(supported: /,
    ],
    [
      fileWith({ a: { dtype: ['F32'], shape: [1], data_offsets: [0, 4] } }, 4),
      /^Error: bad\.st: tensor 'a': unknown dtype \["F32"\] \(supported: /,
    ],
  ];
  for (const [bytes, error] of cases) assert.throws(() => readSafetensors(bytes, 'bad.st'), error);
  // Out-of-order offsets are fine as long as they tile the buffer.
  assert.deepEqual(
    [...readSafetensors(fileWith({ a: f32(4, 8), b: f32(0, 4) }, 8), 'ok').tensors.keys()],
    ['b', 'a'],
  );
});

test('writing rejects the reserved name and inconsistent tensors', () => {
  assert.throws(
    () => writeSafetensors({ __metadata__: tensor('uint8', [0], new Uint8Array(0)) }),
    /'__metadata__' is reserved/,
  );
  const bad = { dtype: 'float32', shape: [3], data: new Float32Array(2) } as Tensor;
  assert.throws(() => writeSafetensors({ bad }), /tensor 'bad' has 2 elements but shape \[3\]/);
});

const resnet = sharedPath('fixtures/torch/resnet18_random.safetensors');
test(
  'the shared ResNet-18 has torchvision names, F16 floats and I64 counters',
  { skip: resnet.skip },
  async () => {
    const { tensors, metadata } = await loadSafetensors(resnet.path);
    assert.deepEqual(metadata, {
      source: 'torchvision.models.resnet18(weights=None), torch.manual_seed(0), BN stats randomised',
    });
    assert.equal(tensors.size, 122);
    assert.deepEqual([...tensors.keys()].slice(0, 6), [
      'conv1.weight',
      'bn1.weight',
      'bn1.bias',
      'bn1.running_mean',
      'bn1.running_var',
      'bn1.num_batches_tracked',
    ]);
    assert.deepEqual(tensors.get('conv1.weight')?.shape, [64, 3, 7, 7]);
    assert.deepEqual(tensors.get('layer3.1.conv2.weight')?.shape, [256, 256, 3, 3]);
    assert.deepEqual(tensors.get('fc.weight')?.shape, [1000, 512]);
    for (const [name, t] of tensors) {
      assert.equal(t.dtype, name.endsWith('.num_batches_tracked') ? 'int64' : 'float16', name);
    }
    const runningVar = toFloat32(tensors.get('bn1.running_var') as Tensor).data;
    assert.ok(runningVar.every((v) => v > 0 && Number.isFinite(v)));
    // Our writer lays out the same header and data as the fixture's, so it reproduces the file.
    assert.ok(Buffer.from(writeSafetensors(tensors, metadata)).equals(readFileSync(resnet.path)));
  },
);

const lora = sharedPath('fixtures/torch/lora_reference.safetensors');
test(
  'the shared LoRA reference has its metadata and the tensors its README lists',
  { skip: lora.skip },
  async () => {
    const { tensors, metadata } = await loadSafetensors(lora.path);
    assert.deepEqual(metadata, {
      model: 'resnet18_random.safetensors (F16 weights, fp32 math, BatchNorm in eval mode)',
      lora:
        'r=8 alpha=16 scaling=alpha/r; A: conv3x3 in->r (stride/padding of the base conv), B: conv1x1 r->out; ' +
        'targets: conv1, conv2 of every block in layer3 and layer4',
      head: 'Linear(512->2) on the global-average-pooled features; loss = mean cross-entropy',
    });
    const shape = (name: string) => [tensors.get(name)?.dtype, tensors.get(name)?.shape];
    assert.deepEqual(shape('x'), ['float32', [4, 3, 64, 64]]);
    assert.deepEqual(shape('labels'), ['int64', [4]]);
    assert.deepEqual(shape('features'), ['float32', [4, 512]]);
    assert.deepEqual(shape('logits'), ['float32', [4, 2]]);
    assert.deepEqual(shape('loss'), ['float32', [1]]);
    assert.deepEqual(shape('layer3.0.conv1.lora_A.weight'), ['float32', [8, 128, 3, 3]]);
    assert.deepEqual(shape('grad.layer4.1.conv2.lora_B.weight'), ['float32', [512, 8, 1, 1]]);
    assert.deepEqual(shape('grad.fc.bias'), ['float32', [2]]);
    assert.equal(tensors.size, 2 + 3 + 8 * 2 * 2 + 2 * 2);
  },
);
