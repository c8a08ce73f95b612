import { tensor, type Tensor } from '../graph/tensor.js';

/**
 * One model batch [N,3,H,W] from planar images or runs of them, back to back in the given order: how
 * the loader, predict, the server and Grad-CAM all hand images to a session.
 */
export function packBatch(
  parts: readonly Float32Array[],
  [h, w]: readonly [number, number],
): Tensor<'float32'> {
  const per = 3 * h * w;
  const total = parts.reduce((n, p) => n + p.length, 0);
  if (total % per !== 0) throw new Error(`packBatch: ${total} values are not whole ${h}x${w} RGB images`);
  const data = parts.length === 1 ? parts[0] : new Float32Array(total);
  if (parts.length > 1) {
    let at = 0;
    for (const p of parts) {
      data.set(p, at);
      at += p.length;
    }
  }
  return tensor('float32', [total / per, 3, h, w], data);
}
