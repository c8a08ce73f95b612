import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { zipSync } from 'fflate';
import { toFloat32, type Tensor } from '../../src/graph/tensor.js';
import { loadTorchCheckpoint, readTorchCheckpoint } from '../../src/weights/torch-checkpoint.js';
import { sharedPath } from '../helpers/shared.js';
import {
  checkpointZip,
  floatView,
  PickleAsm,
  sampleStorage,
  sampleViews,
  stateDictPickle,
  tensorOps,
} from './pickle-asm.js';

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const iota = (n: number) => Array.from({ length: n }, (_, i) => i);
const values = (t: Tensor | undefined) => [...(t?.data ?? [])];

test('views materialise in row-major order, honouring offset and strides', () => {
  const file = checkpointZip(stateDictPickle(sampleViews), { '0': sampleStorage });
  const sd = readTorchCheckpoint(file, 'views.pth');
  assert.deepEqual([...sd.keys()], ['whole', 'permuted', 'narrowed', 'scalar', 'empty']);
  assert.deepEqual(values(sd.get('whole')), iota(24));
  const permuted: number[] = [];
  for (let i = 0; i < 4; i++)
    for (let j = 0; j < 2; j++) for (let k = 0; k < 3; k++) permuted.push(j * 12 + k * 4 + i);
  assert.deepEqual(sd.get('permuted')?.shape, [4, 2, 3]);
  assert.deepEqual(values(sd.get('permuted')), permuted);
  assert.deepEqual(values(sd.get('narrowed')), [5, 6, 9, 10, 13, 14]);
  assert.deepEqual(sd.get('scalar'), { dtype: 'float64', shape: [], data: Float64Array.of(23) });
  assert.deepEqual(sd.get('empty'), { dtype: 'float64', shape: [0, 3], data: new Float64Array(0) });
});

test('every supported storage type maps to its dtype', () => {
  const cases: [string, Tensor['dtype'], ArrayBufferView, unknown[]][] = [
    ['FloatStorage', 'float32', Float32Array.of(1.5, -2), [1.5, -2]],
    ['DoubleStorage', 'float64', Float64Array.of(0.1, 1e300), [0.1, 1e300]],
    ['HalfStorage', 'float16', Uint16Array.of(0x3e00, 0xc080), [0x3e00, 0xc080]],
    ['BFloat16Storage', 'bfloat16', Uint16Array.of(0x3fc0, 0xc010), [0x3fc0, 0xc010]],
    ['LongStorage', 'int64', BigInt64Array.of(-(2n ** 62n), 7n), [-(2n ** 62n), 7n]],
    ['IntStorage', 'int32', Int32Array.of(-5, 2 ** 30), [-5, 2 ** 30]],
    ['ByteStorage', 'uint8', Uint8Array.of(0, 255), [0, 255]],
    ['BoolStorage', 'bool', Uint8Array.of(1, 0), [1, 0]],
  ];
  const stored = cases.map(([storageType], i) => ({
    name: storageType,
    storageType,
    key: String(i),
    numel: 2,
    offset: 0,
    size: [2],
    stride: [1],
  }));
  const records = Object.fromEntries(cases.map(([, , data], i) => [String(i), bytes(data)]));
  const sd = readTorchCheckpoint(checkpointZip(stateDictPickle(stored), records), 'types.pth');
  for (const [storageType, dtype, , expected] of cases) {
    assert.equal(sd.get(storageType)?.dtype, dtype, storageType);
    assert.deepEqual(values(sd.get(storageType)), expected, storageType);
  }
});

/** A one-tensor float32 state dict wrapped the way the caller chooses. */
function wrapped(emit: (p: PickleAsm, tensor: () => void) => void): Uint8Array {
  const p = new PickleAsm().proto();
  emit(p, () => tensorOps(p, floatView()));
  return checkpointZip(p.op('.').bytes(), { '0': bytes(Float32Array.of(3, 4)) });
}

test('parameters, OrderedDict attributes and a nested state_dict are understood', () => {
  // {'epoch': 3, 'state_dict': OrderedDict(w=Parameter(...)) with state_dict()'s _metadata attribute}
  const file = wrapped((p, tensor) => {
    p.op('}').op('(').str('epoch').int(3).str('state_dict');
    p.global('collections', 'OrderedDict').op(')').op('R').str('w');
    p.global('torch._utils', '_rebuild_parameter').op('(');
    tensor();
    p.raw(0x88).global('collections', 'OrderedDict').op(')').op('R').op('t').op('R').op('s');
    p.op('}').str('_metadata').op('}').op('s').op('b');
    p.op('u');
  });
  assert.deepEqual(
    readTorchCheckpoint(file, 'nested.pth'),
    new Map([['w', { dtype: 'float32', shape: [2], data: Float32Array.of(3, 4) }]]),
  );
});

test('a top level that is not a state dict is rejected', () => {
  const list = wrapped((p, tensor) => {
    p.op(']').op('(');
    tensor();
    p.op('e');
  });
  assert.throws(
    () => readTorchCheckpoint(list, 'list.pth'),
    /^Error: list\.pth: top-level object is \(an object\), expected a dict of tensors$/,
  );
  const mixed = wrapped((p, tensor) => {
    p.op('}').op('(').str('w');
    tensor();
    p.str('lr').raw(0x47, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a).op('u');
  });
  assert.throws(
    () => readTorchCheckpoint(mixed, 'mixed.pth'),
    /^Error: mixed\.pth: top-level dict is not a flat dict of tensors/,
  );
});

test('hostile or broken checkpoints fail with the file name and the problem', () => {
  const f32 = { '0': bytes(Float32Array.of(1, 2, 3, 4)) };
  const view = floatView({ numel: 4, size: [4] });
  const cases: [Uint8Array, RegExp][] = [
    [
      new TextEncoder().encode('just some text'),
      /^Error: bad\.pth: not a zip archive \(expected a torch\.save/,
    ],
    [
      Uint8Array.of(0x80, 0x02, 0x8a, 0x0a),
      /^Error: bad\.pth: not a zip archive: a legacy \(pre-1\.6\) torch\.save pickle/,
    ],
    [checkpointZip(stateDictPickle([view]), f32).subarray(0, 60), /^Error: bad\.pth: corrupt zip archive/],
    [zipSync({ 'archive/version': Uint8Array.of(0x33) }), /^Error: bad\.pth: missing <archive>\/data\.pkl/],
    [
      checkpointZip(Uint8Array.of(0x80, 2, 0xfe), {}),
      /^Error: bad\.pth: archive\/data\.pkl byte 2: unknown or unsupported opcode 0xfe$/,
    ],
    [
      checkpointZip(
        new PickleAsm().proto().global('os', 'system').str('echo pwned').raw(0x85).op('R').op('.').bytes(),
        {},
      ),
      /^Error: bad\.pth: archive\/data\.pkl byte 2: unsupported global os\.system: this safe loader only allows collections\.OrderedDict, torch\._utils\._rebuild_tensor_v2, /,
    ],
    [
      checkpointZip(
        new PickleAsm().proto().global('torch.nn.modules.conv', 'Conv2d').op(')').op('R').op('.').bytes(),
        {},
      ),
      /unsupported global torch\.nn\.modules\.conv\.Conv2d/,
    ],
    [
      checkpointZip(stateDictPickle([view]), {}),
      /^Error: bad\.pth: missing storage record archive\/data\/0$/,
    ],
    [
      checkpointZip(
        new PickleAsm().proto().op('(').str('storage').int(0).op('t').op('Q').op('.').bytes(),
        {},
      ),
      /^Error: bad\.pth: unsupported persistent id \("storage", 0\)$/,
    ],
    [
      checkpointZip(new PickleAsm().proto().op(']').op(')').op('b').op('.').bytes(), {}),
      /^Error: bad\.pth: BUILD on an unsupported object$/,
    ],
    [
      checkpointZip(stateDictPickle([{ ...view, storageType: 'ShortStorage' }]), f32),
      /unsupported global torch\.ShortStorage/,
    ],
    [
      checkpointZip(stateDictPickle([view]), { '0': bytes(Float32Array.of(1, 2, 3)) }),
      /^Error: bad\.pth: storage record archive\/data\/0 has 12 bytes but FloatStorage of 4 elements needs 16$/,
    ],
    [
      checkpointZip(stateDictPickle([{ ...view, offset: 1, size: [2, 2], stride: [2, 1] }]), f32),
      /^Error: bad\.pth: storage 0 \(4 elements\) is too short for the view at offset 1 with size \[2,2\] and stride \[2,1\]$/,
    ],
  ];
  for (const [file, error] of cases) assert.throws(() => readTorchCheckpoint(file, 'bad.pth'), error);
});

const tiny = sharedPath('fixtures/torch/tiny_state_dict.pth');
test(
  'the shared torch.save fixture loads with the dtypes, shapes and values it lists',
  { skip: tiny.skip },
  async () => {
    const expected = JSON.parse(readFileSync(tiny.path.replace(/\.pth$/, '.json'), 'utf8')) as Record<
      string,
      { dtype: string; shape: number[]; values: number[] }
    >;
    const sd = await loadTorchCheckpoint(tiny.path);
    assert.deepEqual([...sd.keys()], Object.keys(expected));
    for (const [name, want] of Object.entries(expected)) {
      const t = sd.get(name) as Tensor;
      assert.equal(t.dtype, want.dtype, name);
      assert.deepEqual(t.shape, want.shape, name);
      // float32 and float16 (widened exactly) compare equal to the listed doubles; int64 via Number.
      const got = t.dtype === 'int64' ? values(t).map(Number) : [...toFloat32(t).data];
      assert.deepEqual(got, want.values, name);
    }
    // A view of a 10-element storage comes back as an array of its own, not a window onto the storage.
    assert.equal(sd.get('shared_a')?.data.buffer.byteLength, 16);
  },
);
