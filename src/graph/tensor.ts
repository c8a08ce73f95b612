/**
 * A dense host tensor: the one currency between weight files, the graph IR and ONNX Runtime.
 * Half-precision types keep their raw 16-bit patterns; `toFloat32` widens them.
 */
export type DType =
  'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

export interface DataOf {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  int64: BigInt64Array;
  int32: Int32Array;
  int8: Int8Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

export type TensorData = DataOf[DType];

export interface Tensor<D extends DType = DType> {
  dtype: D;
  shape: number[];
  data: DataOf[D];
}

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function tensor<D extends DType>(dtype: D, shape: number[], data: DataOf[D]): Tensor<D> {
  if (data.length !== numel(shape)) {
    throw new Error(
      `tensor: ${dtype} data has ${data.length} elements but shape [${shape}] needs ${numel(shape)}`,
    );
  }
  return { dtype, shape: [...shape], data };
}

export function f32(shape: number[], data?: ArrayLike<number>): Tensor<'float32'> {
  return tensor('float32', shape, data ? Float32Array.from(data) : new Float32Array(numel(shape)));
}

export function i64(shape: number[], data: ArrayLike<number | bigint>): Tensor<'int64'> {
  return tensor('int64', shape, BigInt64Array.from(Array.from(data, (v) => BigInt(v))));
}

/** Allocates a zeroed typed array of the dtype's storage type. */
export function allocData<D extends DType>(dtype: D, n: number): DataOf[D] {
  const ctor = {
    float32: Float32Array,
    float64: Float64Array,
    float16: Uint16Array,
    bfloat16: Uint16Array,
    int64: BigInt64Array,
    int32: Int32Array,
    int8: Int8Array,
    uint8: Uint8Array,
    bool: Uint8Array,
  }[dtype];
  return new ctor(n) as DataOf[D];
}

/** Decodes IEEE half bits, including subnormals, infinities and NaN. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const halfView = new Float32Array(1);
const halfBits = new Uint32Array(halfView.buffer);

/** Encodes to IEEE half with round-to-nearest-even. */
export function floatToHalf(v: number): number {
  halfView[0] = v;
  const x = halfBits[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = mant >> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

const bf16View = new Float32Array(1);
const bf16Bits = new Uint32Array(bf16View.buffer);

export function bfloat16ToFloat(h: number): number {
  bf16Bits[0] = h << 16;
  return bf16View[0];
}

/** Encodes to bfloat16 with round-to-nearest-even (NaN stays NaN). */
export function floatToBfloat16(v: number): number {
  bf16View[0] = v;
  const x = bf16Bits[0];
  if (Number.isNaN(v)) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Widens any floating or integer tensor to float32 (int64 must fit in a double). */
export function toFloat32(t: Tensor): Tensor<'float32'> {
  if (t.dtype === 'float32') return t as Tensor<'float32'>;
  const out = new Float32Array(t.data.length);
  if (t.dtype === 'float16') {
    const d = t.data as Uint16Array;
    for (let i = 0; i < d.length; i++) out[i] = halfToFloat(d[i]);
  } else if (t.dtype === 'bfloat16') {
    const d = t.data as Uint16Array;
    for (let i = 0; i < d.length; i++) out[i] = bfloat16ToFloat(d[i]);
  } else if (t.dtype === 'int64') {
    const d = t.data as BigInt64Array;
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  } else {
    out.set(t.data as ArrayLike<number>);
  }
  return { dtype: 'float32', shape: [...t.shape], data: out };
}
