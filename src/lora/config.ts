/** LoRA settings, PEFT-compatible in meaning (`r`, `lora_alpha`, `target_modules`). */
export interface LoraConfig {
  /** Rank of the update B·A. */
  r: number;
  /**
   * PEFT's `rank_pattern`: another rank for the targets a key matches (the first key that does), by
   * PEFT's rule, a regular expression matching the whole name or a dotted suffix of it.
   */
  rankPattern?: Readonly<Record<string, number>>;
  /** Scaling numerator: the update is multiplied by alpha / r. */
  alpha: number;
  /**
   * Which Conv nodes get adapters. A string is a regular expression that must match the whole node name
   * (PEFT's rule for a string); an array lists names that match exactly or as a dotted suffix.
   */
  targets: string | string[];
  /** rsLoRA (PEFT's `use_rslora`): scale by alpha/√r, which keeps the update's size as r grows. */
  rslora?: boolean;
  /**
   * DoRA (PEFT's `use_dora`): a trainable magnitude per output channel times the direction W + s·B·A over
   * its norm (detached, as PEFT does); see dora.ts.
   */
  dora?: boolean;
}

/** The rank of one target: `rankPattern`'s first matching key, else `r`. */
export function rankOf(cfg: LoraConfig, name: string): number {
  for (const [key, r] of Object.entries(cfg.rankPattern ?? {}))
    if (new RegExp(`^(?:.*\\.)?(?:${key})$`).test(name)) return r;
  return cfg.r;
}

/** alpha/r (rsLoRA: alpha/√r) for a target of rank r; alpha is one for all targets, as in PEFT. */
export function loraScaling(cfg: LoraConfig, r = cfg.r): number {
  return cfg.alpha / (cfg.rslora ? Math.sqrt(r) : r);
}

/** PEFT's target matching rule, applied to graph node names (torchvision module paths for ResNet). */
export function isTarget(cfg: LoraConfig, name: string): boolean {
  if (typeof cfg.targets === 'string') return new RegExp(`^(?:${cfg.targets})$`).test(name);
  return cfg.targets.some((t) => name === t || name.endsWith(`.${t}`));
}
