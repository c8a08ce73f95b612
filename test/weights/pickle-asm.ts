import { zipSync } from 'fflate';

/** Hand-assembles protocol-2 pickle bytes, opcode by opcode, so tests need no Python. */
export class PickleAsm {
  private out: number[] = [];

  raw(...bytes: number[]): this {
    return this.data(bytes);
  }

  /** Appends bytes one by one: a spread of a long array would overflow the call stack. */
  data(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.out.push(bytes[i]);
    return this;
  }

  op(code: string): this {
    return this.raw(code.charCodeAt(0));
  }

  proto(): this {
    return this.raw(0x80, 2);
  }

  global(module: string, name: string): this {
    return this.op('c').data(new TextEncoder().encode(`${module}\n${name}\n`));
  }

  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.op('X')
      .raw(...le32(b.length))
      .data(b);
  }

  int(n: number): this {
    if (n >= 0 && n < 256) return this.op('K').raw(n);
    if (n >= 0 && n < 65536) return this.op('M').raw(n & 0xff, n >> 8);
    return this.op('J').raw(...le32(n));
  }

  ints(ns: number[]): this {
    this.op('(');
    for (const n of ns) this.int(n);
    return this.op('t');
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

function le32(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
}

export interface StoredView {
  name: string;
  storageType: string;
  key: string;
  numel: number;
  offset: number;
  size: number[];
  stride: number[];
}

/** A view of a 2-element float32 storage '0', with any field overridden. */
export const floatView = (over: Partial<StoredView> = {}): StoredView => ({
  name: 'w',
  storageType: 'FloatStorage',
  key: '0',
  numel: 2,
  offset: 0,
  size: [2],
  stride: [1],
  ...over,
});

/** One storage '0' of float64 0..23 (`sampleStorage`), read through several views. */
const whole: StoredView = {
  name: 'whole',
  storageType: 'DoubleStorage',
  key: '0',
  numel: 24,
  offset: 0,
  size: [2, 3, 4],
  stride: [12, 4, 1],
};
export const sampleViews: StoredView[] = [
  whole,
  // x.permute(2, 0, 1) of the [2,3,4] tensor above.
  { ...whole, name: 'permuted', size: [4, 2, 3], stride: [1, 12, 4] },
  // x.view(6, 4)[1:4, 1:3]: contiguous rows of 2 at a storage offset.
  { ...whole, name: 'narrowed', offset: 5, size: [3, 2], stride: [4, 1] },
  { ...whole, name: 'scalar', offset: 23, size: [], stride: [] },
  { ...whole, name: 'empty', size: [0, 3], stride: [3, 1] },
];
export const sampleStorage = new Uint8Array(Float64Array.from({ length: 24 }, (_, i) => i).buffer);

/** Emits `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())` as torch.save does. */
export function tensorOps(p: PickleAsm, v: StoredView): PickleAsm {
  p.global('torch._utils', '_rebuild_tensor_v2').op('(');
  p.op('(').str('storage').global('torch', v.storageType).str(v.key).str('cpu').int(v.numel).op('t').op('Q');
  p.int(v.offset).ints(v.size).ints(v.stride).raw(0x89);
  return p.global('collections', 'OrderedDict').op(')').op('R').op('t').op('R');
}

/** An OrderedDict of tensors, laid out like torch.save's data.pkl. */
export function stateDictPickle(views: StoredView[]): Uint8Array {
  const p = new PickleAsm().proto().global('collections', 'OrderedDict').op(')').op('R').op('(');
  for (const v of views) tensorOps(p.str(v.name), v);
  return p.op('u').op('.').bytes();
}

/** A torch.save-style zip: `archive/data.pkl` plus one `archive/data/<key>` record per storage. */
export function checkpointZip(pkl: Uint8Array, storages: Record<string, Uint8Array>): Uint8Array {
  const files: Record<string, Uint8Array> = {
    'archive/data.pkl': pkl,
    'archive/version': Uint8Array.of(0x33, 0x0a),
  };
  for (const [key, bytes] of Object.entries(storages)) files[`archive/data/${key}`] = bytes;
  return zipSync(files, { level: 0 });
}
