import type { Rng } from '../random/rng.js';

/**
 * PyTorch's kaiming_uniform_(a=√5), the default init of nn.Conv2d/nn.Linear weights and of PEFT's
 * lora_A: the bound gain·√(3/fan_in) with gain √(2/(1+a²)) simplifies to 1/√fan_in.
 */
export function kaimingUniform(rng: Rng, n: number, fanIn: number): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  return rng.uniformArray(n, -bound, bound);
}
