import type { Dataset } from './dataset.js';
import { SPLIT_NAMES } from './split-folders.js';

/**
 * Per-split class counts as a small table:
 *
 *     split  notsmoking  smoking  total
 *     train         358      358    716
 */
export function formatSplitCounts(ds: Dataset): string {
  const header = ['split', ...ds.classes, 'total'];
  const rows = SPLIT_NAMES.map((split) => {
    const samples = ds.splits[split];
    const counts = ds.classes.map((_, c) => samples.filter((s) => s.label === c).length);
    return [split, ...counts.map(String), String(samples.length)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  return [header, ...rows].map(line).join('\n');
}
