/** A trainable tensor, flattened: the optimizer updates `value` in place from `grad`. */
export interface Param {
  name: string;
  value: Float32Array;
  grad: Float32Array;
}

/** Optimizer state as flat named arrays and counters, so it can go into a checkpoint as is. */
export type StateDict = Record<string, Float32Array | number>;

export interface Optimizer {
  /** One update of every param; `lr` comes per step so that LR schedules live outside the optimizer. */
  step(params: readonly Param[], lr: number): void;
  /** A copy of the state: later steps do not change it. */
  stateDict(): StateDict;
  /** Replaces the state with a copy of `s`, as returned by `stateDict()`. */
  loadStateDict(s: StateDict): void;
}

/**
 * State is keyed by param name, so two params sharing a name would silently share moments; and a grad
 * of the wrong length would read past or short of the value. Both are caller bugs worth failing on.
 */
export function checkParams(params: readonly Param[]): void {
  const seen = new Set<string>();
  for (const p of params) {
    if (seen.has(p.name)) throw new Error(`duplicate param name "${p.name}"`);
    seen.add(p.name);
    if (p.grad.length !== p.value.length) {
      throw new Error(`param "${p.name}": grad has ${p.grad.length} elements, value has ${p.value.length}`);
    }
  }
}

/** Rejects state of another shape than its param, e.g. a checkpoint from another model. */
export function checkStateLength(p: Param, stateLength: number): void {
  if (stateLength !== p.value.length) {
    throw new Error(
      `param "${p.name}": optimizer state has ${stateLength} elements, param has ${p.value.length}`,
    );
  }
}
