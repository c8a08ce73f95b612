import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { computeMetrics } from '../eval/metrics.js';
import { RUN_FILES } from '../run/files.js';
import type { TrainConfig } from '../run/train-config.js';
import { writeFileAtomic } from '../weights/atomic-write.js';
import {
  pct,
  pctPm,
  readFoldScoresFile,
  runCv,
  scoreFinishedFold,
  stat,
  type CvOptions,
  type CvSummary,
  type FoldScores,
  type Stat,
} from './cv.js';
import { soupRuns } from './soup.js';
import type { JobHooks } from './train-job.js';

type Scored = { accuracy: number; logLoss: number };

export interface SeedsSummary {
  /** Where seeds.json and the fold soups are. */
  folder: string;
  seeds: number[];
  folds: number;
  foldSeed: number;
  images: number;
  /** Each seed's cross-validation (its own folder and cv.json) on the same folds. */
  perSeed: { seed: number; folder: string; accuracy: Stat; logLoss: Stat }[];
  /** Over the seeds' mean accuracies. */
  accuracy: Stat;
  /** How much a fold moves between seeds: its sd over the seeds, the mean over the folds. */
  foldSdOverSeeds: number;
  /** Per fold: each seed's model, their ensemble (the mean probability) and their soup. */
  perFold: { fold: number; seeds: Scored[]; ensemble: Scored; soup: Scored | null }[];
  ensemble: { accuracy: Stat; logLoss: Stat };
  /** Null when a fold's soup could not be made (see soupMissing). */
  soup: { accuracy: Stat; logLoss: Stat } | null;
  soupMissing?: string;
}

/**
 * One recipe's cross-validation repeated over training seeds on the same folds: how far the seed
 * alone moves it, and what its seeds give together, as an ensemble (k models at inference) and as a
 * soup (one plain model with the mean of their merged updates, lora/merge.ts). Each seed's folds are
 * `runCv`'s, read back when finished; each fold's soup is kept with its scores, so that like the
 * folds it is made once and its scores alone are enough to summarise it again.
 */
export async function runCvSeeds(
  base: TrainConfig,
  seeds: readonly number[],
  o: CvOptions,
  hooks: JobHooks,
): Promise<SeedsSummary> {
  if (seeds.length < 2 || new Set(seeds).size !== seeds.length)
    throw new Error(`--seeds ${seeds.join(',')}: give two or more different seeds, such as 42,1,2`);
  const foldSeed = o.foldSeed ?? seeds[0];
  const runs: CvSummary[] = [];
  for (const seed of seeds) {
    hooks.log(`\nseed ${seed}:`);
    runs.push(await runCv({ ...base, seed }, { ...o, foldSeed }, hooks));
  }
  const folder = `${runs[0].folder}-seeds-${seeds.join('_')}`;
  const scoredOf = (s: { labels: number[]; probs: number[] }): Scored => {
    const m = computeMetrics(s.labels, s.probs, { classes: runs[0].classes, threshold: base.threshold });
    return { accuracy: m.accuracy, logLoss: m.log_loss };
  };
  const perFold: SeedsSummary['perFold'] = [];
  let soupMissing: string | undefined;
  for (let k = 1; k <= o.folds; k++) {
    const dirs = runs.map((r) => join(r.folder, `fold-${k}`));
    const scores = dirs.map(readFoldScoresFile);
    const { labels } = scores[0].scored;
    const probs = labels.map((_, i) => scores.reduce((t, s) => t + s.scored.probs[i], 0) / scores.length);
    const soup = await foldSoup(dirs, join(folder, `fold-${k}`), scores[0], base);
    if (typeof soup === 'string') soupMissing ??= soup;
    perFold.push({
      fold: k,
      // Each seed's own cv scored its fold already.
      seeds: runs.map((r) => ({ accuracy: r.perFold[k - 1].accuracy, logLoss: r.perFold[k - 1].logLoss })),
      ensemble: scoredOf({ labels, probs }),
      soup: typeof soup === 'string' ? null : scoredOf(soup.scored),
    });
  }
  const over = (f: (p: SeedsSummary['perFold'][number]) => number) => stat(perFold.map(f));
  const summary: SeedsSummary = {
    folder,
    seeds: [...seeds],
    folds: o.folds,
    foldSeed,
    images: runs[0].images,
    perSeed: runs.map((r, i) => ({
      seed: seeds[i],
      folder: r.folder,
      accuracy: r.accuracy,
      logLoss: r.logLoss,
    })),
    accuracy: stat(runs.map((r) => r.accuracy.mean)),
    foldSdOverSeeds: stat(perFold.map((p) => stat(p.seeds.map((s) => s.accuracy)).sd)).mean,
    perFold,
    ensemble: { accuracy: over((p) => p.ensemble.accuracy), logLoss: over((p) => p.ensemble.logLoss) },
    soup: soupMissing
      ? null
      : { accuracy: over((p) => p.soup!.accuracy), logLoss: over((p) => p.soup!.logLoss) },
    ...(soupMissing && { soupMissing }),
  };
  await writeFileAtomic(
    join(folder, 'seeds.json'),
    new TextEncoder().encode(JSON.stringify(summary, null, 2) + '\n'),
  );
  return summary;
}

/**
 * A fold's soup of the seeds' fold models, scored on the fold's images: read back if it was scored
 * before, else made (soupRuns) and scored. A string says why it cannot be made.
 */
async function foldSoup(
  dirs: string[],
  dir: string,
  fold: FoldScores,
  c: TrainConfig,
): Promise<FoldScores | string> {
  if (existsSync(join(dir, RUN_FILES.foldScores))) return readFoldScoresFile(dir);
  const gone = dirs.find((d) => !existsSync(join(d, RUN_FILES.adapterWeights)));
  if (gone)
    return `${gone} holds only its scores (no ${RUN_FILES.adapterWeights}), so its soup cannot be made; delete its ${RUN_FILES.foldScores} to train it again`;
  if (!existsSync(join(dir, RUN_FILES.model))) await soupRuns(dirs, dir);
  const val = fold.images.map((p, i) => ({ path: join(c.data, p), label: fold.scored.labels[i] }));
  return scoreFinishedFold(dir, val, c);
}

/** The summary as the terminal shows it: per fold, each seed, their ensemble and their soup. */
export function formatSeedsSummary(s: SeedsSummary): string {
  const head = ['fold', ...s.seeds.map((seed) => `seed ${seed}`), 'ensemble', 'soup'];
  const cells = s.perFold.map((p) => [
    String(p.fold),
    ...p.seeds.map((x) => pct(x.accuracy)),
    pct(p.ensemble.accuracy),
    p.soup ? pct(p.soup.accuracy) : '-',
  ]);
  cells.push([
    'mean',
    ...s.perSeed.map((r) => pct(r.accuracy.mean)),
    pct(s.ensemble.accuracy.mean),
    s.soup ? pct(s.soup.accuracy.mean) : '-',
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...cells.map((r) => r[c].length)));
  const table = [head, ...cells]
    .map((r) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  '))
    .join('\n');
  const ll = (x: Stat) => x.mean.toFixed(4);
  return [
    `${s.seeds.length} training seeds of one recipe on the same ${s.folds} folds (seeded ${s.foldSeed}) of ${s.images} images; accuracy per fold`,
    table,
    `the seeds' mean accuracies: ${pctPm(s.accuracy)}; a fold moves by ${(100 * s.foldSdOverSeeds).toFixed(2)} points between seeds (its sd over the seeds, mean over the folds)`,
    `log-loss: seeds ${s.perSeed.map((r) => ll(r.logLoss)).join(', ')}; ensemble ${ll(s.ensemble.logLoss)}; soup ${s.soup ? ll(s.soup.logLoss) : '-'}`,
    `ensemble: the mean of the seeds' probabilities (${s.seeds.length} models at inference); soup: one plain model with the mean of their merged LoRA updates and heads`,
    ...(s.soupMissing ? [`no soup: ${s.soupMissing}`] : []),
  ].join('\n');
}
