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
