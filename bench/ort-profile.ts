import { readFileSync } from 'node:fs';

export interface KernelEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

/** The kernel-time events of an ORT profile (Chrome trace JSON), one per node per run, in run order. */
export function kernelEvents(path: string): KernelEvent[] {
  const events = JSON.parse(readFileSync(path, 'utf8')) as KernelEvent[];
  return events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
}

/**
 * Summarises an ORT profile (Chrome trace JSON): kernel time per op type, and per forward/backward
 * (backward nodes are named `grad.*`) or layout (NCHWc reorders), as a Markdown table of the top rows.
 */
export function summarizeProfile(path: string, runs: number, top = 12): string {
  const kernels = kernelEvents(path);
  const byKey = new Map<string, number>();
  let total = 0;
  for (const e of kernels) {
    const op = e.args?.op_name ?? '?';
    // ORT names the NCHWc reorders it inserts after no node of ours, so they get a phase of their own.
    const phase = op.startsWith('Reorder') ? 'layout' : e.name.startsWith('grad.') ? 'backward' : 'forward';
    const key = `${op} (${phase})`;
    byKey.set(key, (byKey.get(key) ?? 0) + e.dur);
    total += e.dur;
  }
  const rows = [...byKey].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    `kernel time per step: ${(total / runs / 1000).toFixed(0)} ms`,
    '',
    '| op (phase) | ms/step | share |',
    '|---|---|---|',
    ...rows.map(
      ([k, us]) => `| ${k} | ${(us / runs / 1000).toFixed(1)} | ${((100 * us) / total).toFixed(1)}% |`,
    ),
  ].join('\n');
}
