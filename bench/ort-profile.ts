import { readFileSync } from 'node:fs';

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

/**
 * Summarises an ORT profile (Chrome trace JSON): kernel time per op type, and per forward/backward
 * (backward nodes are named `grad.*`) or layout (NCHWc reorders), as a Markdown table of the top rows.
 */
export function summarizeProfile(path: string, runs: number, top = 12): string {
  const events = JSON.parse(readFileSync(path, 'utf8')) as ProfileEvent[];
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
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
