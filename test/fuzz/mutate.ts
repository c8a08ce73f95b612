import type { Rng } from '../../src/random/rng.js';

/** Values that sit on the edges decoders check: zero, sign bits, all-ones, powers of two. */
const INTERESTING = [
  0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff,
];

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)];
}

/** A number near the file's own sizes or on a type's edge, for length fields. */
function lengthLike(rng: Rng, len: number): number {
  const near = [len, len - 1, len + 1, len * 2, len >>> 1, rng.int(len + 1)];
  return pick(rng, rng.int(2) ? INTERESTING : near) >>> 0;
}

/** A random slice of `b` (possibly empty). */
function chunk(rng: Rng, b: Uint8Array): Uint8Array {
  const at = rng.int(b.length + 1);
  return b.subarray(at, at + rng.int(Math.min(64, b.length - at) + 1));
}

function splice(
  b: Uint8Array,
  at: number,
  remove: number,
  insert: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const out = new Uint8Array(b.length - remove + insert.length);
  out.set(b.subarray(0, at));
  out.set(insert, at);
  out.set(b.subarray(at + remove), at + insert.length);
  return out;
}

/** Little-endian base-128, as protobuf writes integers. */
function varint(v: bigint): Uint8Array {
  const out: number[] = [];
  let x = BigInt.asUintN(64, v);
  do {
    out.push(Number(x & 0x7fn) | (x > 0x7fn ? 0x80 : 0));
    x >>= 7n;
  } while (x > 0n);
  return Uint8Array.from(out);
}

type Mutator = (rng: Rng, b: Uint8Array, donors: readonly Uint8Array[]) => Uint8Array;

const MUTATORS: Record<string, Mutator> = {
  flipBits: (rng, b) => {
    const out = new Uint8Array(b); // a copy (Buffer.prototype.slice would be a view)
    for (let n = 1 + rng.int(8); n > 0 && out.length; n--) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return out;
  },
  setByte: (rng, b) => {
    const out = new Uint8Array(b); // a copy (Buffer.prototype.slice would be a view)
    if (out.length) out[rng.int(out.length)] = pick(rng, INTERESTING) & 0xff;
    return out;
  },
  /** Overwrites 1, 2, 4 or 8 bytes with a length-like value, as a size or count field would hold. */
  editLength: (rng, b) => {
    const width = pick(rng, [1, 2, 4, 8]);
    if (b.length < width) return b;
    const out = new Uint8Array(b); // a copy (Buffer.prototype.slice would be a view)
    const at = rng.int(out.length - width + 1);
    const v = BigInt(lengthLike(rng, b.length)) * (width === 8 && rng.int(4) === 0 ? 2n ** 32n : 1n);
    for (let i = 0; i < width; i++) out[at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
    return out;
  },
  /** Rewrites one protobuf-style varint (1-10 bytes) as another, often huge or negative. */
  editVarint: (rng, b) => {
    if (!b.length) return b;
    const at = rng.int(b.length);
    let end = at;
    while (end < b.length && end - at < 10 && b[end] & 0x80) end++;
    const v = rng.int(3)
      ? BigInt(lengthLike(rng, b.length))
      : pick(rng, [-1n, 2n ** 40n, 10n ** 12n, 2n ** 63n]);
    return splice(b, at, Math.min(end + 1, b.length) - at, varint(v));
  },
  truncate: (rng, b) => b.subarray(0, rng.int(b.length + 1)),
  removeChunk: (rng, b) => {
    const at = rng.int(b.length + 1);
    return splice(b, at, Math.min(rng.int(65), b.length - at));
  },
  duplicateChunk: (rng, b) => splice(b, rng.int(b.length + 1), 0, chunk(rng, b)),
  /** Inserts or overwrites with a chunk of another valid file of the same kind. */
  spliceDonor: (rng, b, donors) => {
    const piece = chunk(rng, pick(rng, donors));
    const at = rng.int(b.length + 1);
    return splice(b, at, rng.int(2) ? Math.min(piece.length, b.length - at) : 0, piece);
  },
};
const NAMES = Object.keys(MUTATORS);

/** One to four random mutations of `input`; `donors` supply spliced chunks. */
export function mutate(rng: Rng, input: Uint8Array, donors: readonly Uint8Array[]): Uint8Array {
  let b = input;
  for (let n = 1 + rng.int(4); n > 0; n--) b = MUTATORS[pick(rng, NAMES)](rng, b, donors);
  return b;
}
