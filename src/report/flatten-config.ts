/**
 * Nested settings as `[dotted.key, value]` rows, e.g. `{ lora: { r: 8 } }` → `['lora.r', '8']`,
 * so a hyperparameter table stays two columns however the config is nested. Arrays stay whole.
 */
export function flattenConfig(config: Record<string, unknown>, prefix = ''): [string, string][] {
  return Object.entries(config).flatMap(([k, v]): [string, string][] => {
    const key = prefix + k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v))
      return flattenConfig(v as Record<string, unknown>, `${key}.`);
    return [[key, typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v))]];
  });
}
