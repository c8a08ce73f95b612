import { checkParams, checkStateLength, type Optimizer, type Param, type StateDict } from './optimizer.js';

export interface AdamWOptions {
  /** Decay rates of the first and second moment averages. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the denominator for stability. Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay: each step multiplies params by 1 - lr * weightDecay. Default 1e-2. */
  weightDecay?: number;
}

interface Moments {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

/**
 * AdamW as torch.optim.AdamW (amsgrad=False, maximize=False), following `_single_tensor_adamw`:
 *
 *   p ← p · (1 − lr·λ)
 *   m ← lerp(m, g, 1 − β1)            v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
 *
 * Params, m and v are float32, and every in-place write PyTorch makes to them (p.mul_, m.lerp_, v.mul_,
 * v.addcmul_, p.addcdiv_) is rounded to float32 here too, with the scalars rounded to float32 as its CPU
 * kernels see them. That matters: at lr 1e-3 and λ 1e-4 the decay factor 1 − 1e-7 is no float32 and
 * becomes 1 − 2⁻²³ (19% more decay), and the decayed weight is rounded again, so the decay is quantised
 * as in PyTorch. Temporaries (√v, the denominator) stay float64, so results agree with PyTorch to about
 * a float32 ulp per step, not bitwise. The step count is per param, as in PyTorch, so a param that joins
 * later gets its own bias correction.
 */
export class AdamW implements Optimizer {
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private state = new Map<string, Moments>();

  constructor({ betas = [0.9, 0.999], eps = 1e-8, weightDecay = 1e-2 }: AdamWOptions = {}) {
    const [beta1, beta2] = betas;
    if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) {
      throw new RangeError(`AdamW: betas must be in [0, 1), got [${beta1}, ${beta2}]`);
    }
    if (!(eps >= 0 && weightDecay >= 0)) {
      throw new RangeError(`AdamW: eps and weightDecay must be >= 0, got ${eps} and ${weightDecay}`);
    }
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
  }

  step(params: readonly Param[], lr: number): void {
    if (!(lr >= 0)) throw new RangeError(`AdamW: lr must be >= 0, got ${lr}`);
    checkParams(params);
    const f = Math.fround;
    const { beta1, beta2 } = this;
    const w1 = f(1 - beta1);
    const b2 = f(beta2);
    const w2 = f(1 - beta2);
    const eps = f(this.eps);
    const decay = f(1 - lr * this.weightDecay);
    for (const p of params) {
      const n = p.value.length;
      let s = this.state.get(p.name);
      if (s === undefined) {
        s = { step: 0, m: new Float32Array(n), v: new Float32Array(n) };
        this.state.set(p.name, s);
      } else {
        checkStateLength(p, s.m.length);
      }
      s.step += 1;
      // Bias corrections from the integer step in float64, as PyTorch computes them in Python.
      const stepSize = f(lr / (1 - beta1 ** s.step));
      const bc2Sqrt = f(Math.sqrt(1 - beta2 ** s.step));
      const { value, grad } = p;
      const { m, v } = s;
      for (let i = 0; i < n; i++) {
        const g = grad[i];
        const mi = f(m[i] + w1 * (g - m[i]));
        const vi = f(f(b2 * v[i]) + w2 * g * g);
        m[i] = mi;
        v[i] = vi;
        value[i] = f(value[i] * decay) - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
      }
    }
  }

  /** `<param>.exp_avg`, `<param>.exp_avg_sq` and `<param>.step`, PyTorch's names for the same state. */
  stateDict(): StateDict {
    const out: StateDict = {};
    for (const [name, s] of this.state) {
      out[`${name}.exp_avg`] = s.m.slice();
      out[`${name}.exp_avg_sq`] = s.v.slice();
      out[`${name}.step`] = s.step;
    }
    return out;
  }

  loadStateDict(s: StateDict): void {
    const state = new Map<string, Moments>();
    for (const key of Object.keys(s)) {
      if (!key.endsWith('.step')) continue;
      const name = key.slice(0, -'.step'.length);
      const step = s[key];
      const m = s[`${name}.exp_avg`];
      const v = s[`${name}.exp_avg_sq`];
      if (
        typeof step !== 'number' ||
        !Number.isInteger(step) ||
        step < 1 ||
        !(m instanceof Float32Array) ||
        !(v instanceof Float32Array) ||
        m.length !== v.length
      ) {
        throw new Error(`AdamW.loadStateDict: missing or malformed state for param "${name}"`);
      }
      state.set(name, { step, m: m.slice(), v: v.slice() });
    }
    if (Object.keys(s).length !== 3 * state.size) {
      throw new Error('AdamW.loadStateDict: expected only <param>.exp_avg, .exp_avg_sq and .step keys');
    }
    this.state = state;
  }
}
