import { allocData, BYTES_PER_ELEMENT, type DataOf, type DType, type TensorData } from '../graph/tensor.js';

// Weight files are little-endian, and so is every platform Node runs us on, so typed
// arrays map to file bytes without swapping.

/** The raw bytes behind a tensor's data (a view, not a copy). */
export function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Copies little-endian bytes into a fresh, properly aligned typed array of the dtype. */
export function dataFromBytes<D extends DType>(dtype: D, bytes: Uint8Array): DataOf[D] {
  const out = allocData(dtype, bytes.byteLength / BYTES_PER_ELEMENT[dtype]);
  bytesOf(out).set(bytes);
  return out;
}
