// Fuzz target: the safetensors reader (length prefix, JSON header, layout of the data buffer).
import { f32, i64, type Tensor } from '../../src/graph/tensor.js';
import type { Rng } from '../../src/random/rng.js';
import { readSafetensors, writeSafetensors } from '../../src/weights/safetensors.js';
import { checkTensor, type FuzzTarget } from './harness.js';
import { mutate, pick } from './mutate.js';

const t = (dtype: Tensor['dtype'], shape: number[], data: Tensor['data']): Tensor => ({ dtype, shape, data });
const files = [
  writeSafetensors(
    {
      w: f32([2, 3], [1, 2, 3, 4, 5, 6]),
      steps: i64([2], [-1, 7]),
      half: t('float16', [1, 2], Uint16Array.of(0x3c00, 0xc000)),
      empty: t('bfloat16', [0, 4], new Uint16Array(0)),
      mask: t('bool', [3], Uint8Array.of(1, 0, 1)),
      scalar: t('float64', [], Float64Array.of(0.5)),
    },
    { format: 'pt', note: 'fuzz seed' },
  ),
  writeSafetensors({ 'lora.A': f32([1, 2], [0, 1]), 'lora.B': t('int32', [2], Int32Array.of(3, 4)) }),
  writeSafetensors({}),
];
const u64 = (n: number) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
};
const split = (file: Uint8Array) => {
  const len = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  return { header: file.subarray(8, 8 + len), data: file.subarray(8 + len) };
};
const join = (header: Uint8Array, data: Uint8Array) => {
  const out = new Uint8Array(8 + header.length + data.length);
  out.set(u64(header.length));
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
};
const headers = files.map((f) => split(f).header);

/** Stands for an array nested past JSON.stringify's recursion limit, spliced in as text. */
const DEEP = '\u0000deep';
const deepText = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;

/** Values a header field might wrongly hold. */
const ODD: unknown[] = [
  ['F32'],
  -1,
  0,
  1.5,
  2 ** 53,
  1e6,
  1e308,
  '8',
  null,
  true,
  {},
  [],
  [1e6, 1e6],
  [0, 2 ** 40],
  [[1]],
  'F32',
  'I64',
  'U16',
  '__proto__',
];

/** Rewrites one field of one tensor's header entry with an odd value, keeping the header valid JSON. */
function editField(rng: Rng, header: Uint8Array): Uint8Array {
  const json = JSON.parse(new TextDecoder().decode(header)) as Record<string, Record<string, unknown>>;
  const names = Object.keys(json);
  if (!names.length) return header;
  const name = pick(rng, names);
  const entry = json[name];
  if (rng.int(6) === 0) delete json[name];
  else if (typeof entry === 'object' && entry !== null) {
    const field = pick(rng, ['dtype', 'shape', 'data_offsets', ...Object.keys(entry)]);
    const value = rng.int(500) ? pick(rng, ODD) : DEEP; // DEEP is slow to refuse: keep it rare
    if (Array.isArray(entry[field]) && rng.int(2)) {
      const arr = [...(entry[field] as unknown[])];
      arr[rng.int(arr.length + 1)] = value;
      entry[field] = arr;
    } else entry[field] = value;
  }
  return new TextEncoder().encode(JSON.stringify(json).replace(JSON.stringify(DEEP), deepText));
}

const target: FuzzTarget = {
  where: 'fuzz.safetensors',
  generate(rng) {
    const file = pick(rng, files);
    const { header, data } = split(file);
    switch (rng.int(3)) {
      case 0: // the whole file, length prefix included
        return mutate(rng, file, files);
      case 1: // the header bytes, with the length prefix kept true
        return join(mutate(rng, header, headers), data);
      default: // one header field, still valid JSON
        return join(editField(rng, header), rng.int(4) ? data : mutate(rng, data, files));
    }
  },
  decode(input, where) {
    for (const [name, tensor] of readSafetensors(input, where).tensors) checkTensor(name, tensor);
  },
};
export default target;
