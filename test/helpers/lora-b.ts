import type { LoraModel } from '../../src/lora/lora-model.js';
import type { Rng } from '../../src/random/rng.js';

/**
 * Draws every LoRA B factor uniform in ±bound from `rng`, in the model's parameter order. PEFT starts B at
 * zero, where the adapters change nothing and every A gradient is zero; tests need both alive.
 */
export function seedLoraB(model: LoraModel, rng: Rng, bound: number): void {
  for (const [name, t] of model.params)
    if (/lora_B/.test(name)) for (let i = 0; i < t.data.length; i++) t.data[i] = rng.uniform(-bound, bound);
}
