import { join } from 'node:path';
import type { TrainConfig } from '../run/train-config.js';
import { writeFileAtomic } from '../weights/atomic-write.js';
import { type CvOptions, type CvSummary, runCv } from './cv.js';
import { headlineScores } from '../eval/model-metrics.js';
import { runTrainJob } from './train-job.js';

/** The sweep folder's table of results. */
export const SWEEP_FILE = 'sweep.json';

export interface SweepRow {
  name: string;
  valAcc: number;
  f1: number;
  auc: number | null;
  bestEpoch: number;
  trainable: number;
  seconds: number;
}

/** The settings a sweep varies, each with the values to try. */
export interface SweepGrid {
  rank?: number[];
  lr?: number[];
  alpha?: number[];
  schedule?: TrainConfig['schedule'][];
  seed?: number[];
}

/** Every combination of the listed values, as named config variants ('rank=4 lr=0.001'). */
export function sweepVariants(base: TrainConfig, grid: SweepGrid): { name: string; config: TrainConfig }[] {
  let variants: { name: string[]; config: TrainConfig }[] = [{ name: [], config: base }];
  for (const [key, values] of Object.entries(grid) as [keyof SweepGrid, (number | string)[] | undefined][]) {
    if (!values) continue;
    variants = variants.flatMap((v) =>
      values.map((x) => ({ name: [...v.name, `${key}=${x}`], config: { ...v.config, [key]: x } })),
    );
  }
  return variants.map((v) => ({ name: v.name.join(' ') || 'base', config: v.config }));
}

/** A CV sweep's row: the variant and its cross-validation summary. */
export interface CvSweepRow {
  name: string;
  summary: CvSummary;
}

/** Cross-validates every variant with the same folds (finished folds are read back, not trained again). */
export async function runCvSweep(
  out: string,
  variants: { name: string; config: TrainConfig }[],
  cv: CvOptions,
  hooks: { log(line: string): void; shouldStop?(): boolean },
): Promise<CvSweepRow[]> {
  const rows: CvSweepRow[] = [];
  for (const [k, v] of variants.entries()) {
    hooks.log(`\n[${k + 1}/${variants.length}] ${v.name}`);
    rows.push({ name: v.name, summary: await runCv({ ...v.config, out }, cv, hooks) });
    hooks.log(formatCvSweepTable(rows.slice(-1)));
  }
  await writeFileAtomic(
    join(out, SWEEP_FILE),
    new TextEncoder().encode(JSON.stringify(rows, null, 2) + '\n'),
  );
  return rows;
}

export function formatCvSweepTable(rows: CvSweepRow[]): string {
  const pm = (m: number, sd: number, scale = 1, digits = 4) =>
    `${(scale * m).toFixed(digits)} ± ${(scale * sd).toFixed(digits)}`;
  const head = ['setting', 'CV accuracy %', 'F1', 'ROC-AUC', 'log-loss', 'peak epoch', 'time'];
  const cells = rows.map(({ name, summary: s }) => {
    const peak = s.byEpoch.reduce((a, b) => (b.accuracy >= a.accuracy ? b : a));
    return [
      name,
      pm(s.accuracy.mean, s.accuracy.sd, 100, 2),
      pm(s.f1.mean, s.f1.sd),
      pm(s.rocAuc.mean, s.rocAuc.sd),
      pm(s.logLoss.mean, s.logLoss.sd),
      String(peak.epoch),
      `${(s.seconds / 60).toFixed(1)} min`,
    ];
  });
  const widths = head.map((h, c) => Math.max(h.length, ...cells.map((r) => r[c].length)));
  return [head, ...cells]
    .map((r) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  '))
    .join('\n');
}

export function formatSweepTable(rows: SweepRow[]): string {
  const head = ['setting', 'val acc', 'val F1', 'ROC-AUC', 'best epoch', 'trainable', 'time'];
  const cells = rows.map((r) => [
    r.name,
    r.valAcc.toFixed(4),
    r.f1.toFixed(4),
    r.auc?.toFixed(4) ?? '-',
    String(r.bestEpoch),
    r.trainable.toLocaleString('en-US'),
    `${r.seconds.toFixed(0)} s`,
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...cells.map((r) => r[c].length)));
  return [head, ...cells]
    .map((r) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  '))
    .join('\n');
}

/**
 * Trains every variant into its own run folder under `out` (named after its setting), one after
 * another, and writes the rows to SWEEP_FILE in `out`. Stops early, keeping the rows so far, when
 * `shouldStop` says so; the interrupted run can be resumed with `train --resume`.
 */
export async function runSweep(
  out: string,
  variants: { name: string; config: TrainConfig }[],
  hooks: { log(line: string): void; shouldStop?(): boolean },
): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const [k, v] of variants.entries()) {
    const dir = join(out, v.name.replace(/[ =]/g, (ch) => (ch === ' ' ? '_' : '-')) || 'base');
    hooks.log(`\n[${k + 1}/${variants.length}] ${v.name} -> ${dir}`);
    const r = await runTrainJob({ ...v.config, out: dir }, { log: () => {}, shouldStop: hooks.shouldStop });
    if (r.outcome === 'interrupted' || !r.metrics) {
      hooks.log(`interrupted; ${dir} can be resumed with 'smoker-lora train --resume'`);
      break;
    }
    const best = r.history.reduce((a, b) => ((b.valAcc ?? 0) > (a.valAcc ?? 0) ? b : a));
    rows.push({
      name: v.name,
      valAcc: r.metrics.accuracy,
      f1: headlineScores(r.metrics).f1,
      auc: headlineScores(r.metrics).rocAuc,
      bestEpoch: best.epoch,
      trainable: r.trainable,
      seconds: r.seconds,
    });
    hooks.log(formatSweepTable(rows.slice(-1)));
  }
  await writeFileAtomic(
    join(out, SWEEP_FILE),
    new TextEncoder().encode(JSON.stringify(rows, null, 2) + '\n'),
  );
  return rows;
}
