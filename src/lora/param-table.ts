import { numel } from '../graph/tensor.js';
import { HEAD_BIAS, HEAD_WEIGHT } from './head.js';
import type { LoraModel } from './lora-model.js';

export interface ParamSummary {
  adapter: number;
  head: number;
  trainable: number;
  /** Backbone parameters as the original framework counts them, plus the trainables. */
  total: number;
  percent: number;
}

/** A site's trainables: A, B and any DoRA magnitude. */
function siteParams(s: LoraModel['sites'][number]): number {
  return numel(s.shapeA) + numel(s.shapeB) + (s.magnitude ? s.shapeB[0] : 0);
}

export function summarizeParams(model: LoraModel): ParamSummary {
  const count = (name: string) => numel(model.params.get(name)!.shape);
  const adapter = model.sites.reduce((s, site) => s + siteParams(site), 0);
  const head = count(HEAD_WEIGHT) + count(HEAD_BIAS);
  const trainable = adapter + head;
  const total = model.backbone.parameterCount + trainable;
  return { adapter, head, trainable, total, percent: (100 * trainable) / total };
}

/** A plain-text table of every adapter and the head, with the totals line PEFT prints. */
export function formatParamTable(model: LoraModel): string {
  const rows: string[][] = [['module', 'lora_A', 'lora_B', 'params']];
  for (const s of model.sites) rows.push([s.node, `[${s.shapeA}]`, `[${s.shapeB}]`, String(siteParams(s))]);
  const sum = summarizeParams(model);
  rows.push([
    'head (fc)',
    `[${model.params.get(HEAD_WEIGHT)!.shape}]`,
    `[${model.params.get(HEAD_BIAS)!.shape}]`,
    String(sum.head),
  ]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    r.map((cell, c) => (c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ');
  const fmt = (n: number) => n.toLocaleString('en-US');
  return [
    ...rows.map(line),
    '',
    `trainable params: ${fmt(sum.trainable)} (adapters ${fmt(sum.adapter)} + head ${fmt(sum.head)}) || all params: ${fmt(sum.total)} || trainable%: ${sum.percent.toFixed(4)}`,
  ].join('\n');
}
