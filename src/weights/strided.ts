import { allocData, BYTES_PER_ELEMENT, type DType, numel, type Tensor } from '../graph/tensor.js';
import { bytesOf } from './typed-bytes.js';

/** A strided view into raw little-endian storage bytes, all counts in elements (as in PyTorch). */
export interface StridedView<D extends DType = DType> {
  dtype: D;
  storage: Uint8Array;
  offset: number;
  size: number[];
  stride: number[];
}

/** Index of the last storage element the view touches, or -1 when it is empty. */
export function lastElement({ offset, size, stride }: Omit<StridedView, 'dtype' | 'storage'>): number {
  if (numel(size) === 0) return -1;
  return size.reduce((last, n, d) => last + (n - 1) * stride[d], offset);
}

/**
 * Copies the view into a fresh row-major tensor. Trailing dimensions that are already
 * contiguous are copied as one run; the rest are walked with an odometer.
 * The caller checks bounds with `lastElement`.
 */
export function materialise<D extends DType>(view: StridedView<D>): Tensor<D> {
  const { dtype, storage, offset, size, stride } = view;
  const n = numel(size);
  const data = allocData(dtype, n);
  const dst = bytesOf(data);
  const b = BYTES_PER_ELEMENT[dtype];
  let outer = size.length;
  let run = 1;
  // A size-1 dimension never moves, so its stride is irrelevant to contiguity.
  while (outer > 0 && (stride[outer - 1] === run || size[outer - 1] === 1)) run *= size[--outer];
  const index = new Array<number>(outer).fill(0);
  let src = offset;
  for (let o = 0; o < n; o += run) {
    dst.set(storage.subarray(src * b, (src + run) * b), o * b);
    for (let d = outer - 1; d >= 0; d--) {
      src += stride[d];
      if (++index[d] < size[d]) break;
      src -= stride[d] * size[d];
      index[d] = 0;
    }
  }
  return { dtype, shape: [...size], data };
}
