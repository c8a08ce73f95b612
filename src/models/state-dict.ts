import { numel, type Tensor } from '../graph/tensor.js';

/** A PyTorch-style state dict: module path + '.weight'/'.bias'/... to tensor. */
export type StateDict = Map<string, Tensor>;

/** BatchNorm buffers: in a state dict, but not parameters in PyTorch's sense. */
const BUFFER_SUFFIXES = ['.running_mean', '.running_var', '.num_batches_tracked'];

/** Number of parameters as `sum(p.numel() for p in model.parameters())` counts them (buffers excluded). */
export function countParameters(sd: StateDict): number {
  let n = 0;
  for (const [key, t] of sd) if (!BUFFER_SUFFIXES.some((s) => key.endsWith(s))) n += numel(t.shape);
  return n;
}

/** The tensor at `key`, which must have exactly `shape`; errors are one line naming key and shapes. */
export function expectTensor(sd: StateDict, key: string, shape: number[], where: string): Tensor {
  const t = sd.get(key);
  if (!t) throw new Error(`${where}: state dict has no '${key}' (expected shape [${shape}])`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${where}: '${key}' has shape [${t.shape}], expected [${shape}]`);
  }
  return t;
}
