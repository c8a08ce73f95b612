import { checkParams, checkStateLength, type Optimizer, type Param, type StateDict } from './optimizer.js';

export interface SGDOptions {
  /** Momentum factor; 0 means plain SGD with no state. Default 0. */
  momentum?: number;
  /** Scales the gradient's contribution to the momentum buffer by 1 - dampening. Default 0. */
  dampening?: number;
  /** L2 penalty coupled into the gradient: g + weightDecay · p. Default 0. */
  weightDecay?: number;
  /** Nesterov momentum; needs momentum > 0 and dampening 0, as in PyTorch. Default false. */
  nesterov?: boolean;
}

/**
 * SGD as torch.optim.SGD (maximize=False), following `_single_tensor_sgd`:
 *
 *   d ← g + λ·p
 *   b ← d on the first step, else μ·b + (1 − τ)·d       (only when μ ≠ 0)
 *   d ← d + μ·b if nesterov, else b
 *   p ← p − lr·d
 *
 * The first step copies d into the buffer undampened, as PyTorch does. As in AdamW, every in-place
 * write PyTorch makes (b.mul_, b.add_, p.add_) is rounded to float32 with float32 scalars, and the
 * temporary d stays float64.
 */
export class SGD implements Optimizer {
  private readonly momentum: number;
  private readonly dampening: number;
  private readonly weightDecay: number;
  private readonly nesterov: boolean;
  private buffers = new Map<string, Float32Array>();

  constructor({ momentum = 0, dampening = 0, weightDecay = 0, nesterov = false }: SGDOptions = {}) {
    if (!(momentum >= 0 && weightDecay >= 0 && Number.isFinite(dampening))) {
      throw new RangeError(
        `SGD: momentum and weightDecay must be >= 0 and dampening finite, got ${momentum}, ${weightDecay}, ${dampening}`,
      );
    }
    if (nesterov && (momentum <= 0 || dampening !== 0)) {
      throw new RangeError('SGD: Nesterov momentum requires a momentum and zero dampening');
    }
    this.momentum = momentum;
    this.dampening = dampening;
    this.weightDecay = weightDecay;
    this.nesterov = nesterov;
  }

  step(params: readonly Param[], lr: number): void {
    if (!(lr >= 0)) throw new RangeError(`SGD: lr must be >= 0, got ${lr}`);
    checkParams(params);
    const f = Math.fround;
    const mu = f(this.momentum);
    const keep = f(1 - this.dampening);
    const wd = f(this.weightDecay);
    const rate = f(lr);
    const nesterov = this.nesterov;
    for (const p of params) {
      const { value, grad } = p;
      const n = value.length;
      if (this.momentum === 0) {
        for (let i = 0; i < n; i++) value[i] -= rate * (grad[i] + wd * value[i]);
        continue;
      }
      let buf = this.buffers.get(p.name);
      const first = buf === undefined;
      if (buf === undefined) {
        buf = new Float32Array(n);
        this.buffers.set(p.name, buf);
      } else {
        checkStateLength(p, buf.length);
      }
      for (let i = 0; i < n; i++) {
        const d = grad[i] + wd * value[i];
        const b = first ? f(d) : f(f(mu * buf[i]) + keep * d);
        buf[i] = b;
        value[i] -= rate * (nesterov ? d + mu * b : b);
      }
    }
  }

  /** `<param>.momentum_buffer`, PyTorch's name; empty without momentum. */
  stateDict(): StateDict {
    const out: StateDict = {};
    for (const [name, buf] of this.buffers) out[`${name}.momentum_buffer`] = buf.slice();
    return out;
  }

  loadStateDict(s: StateDict): void {
    const buffers = new Map<string, Float32Array>();
    for (const [key, buf] of Object.entries(s)) {
      if (!key.endsWith('.momentum_buffer') || !(buf instanceof Float32Array)) {
        throw new Error(
          `SGD.loadStateDict: expected <param>.momentum_buffer Float32Arrays, got key "${key}"`,
        );
      }
      buffers.set(key.slice(0, -'.momentum_buffer'.length), buf.slice());
    }
    this.buffers = buffers;
  }
}
