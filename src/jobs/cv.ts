import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { positiveProbabilities, probabilities } from '../classify/classify.js';
import { discoverDataset } from '../data/dataset.js';
import { stratifiedFolds } from '../data/folds.js';
import type { Sample } from '../data/sample.js';
import { computeMetrics, type Metrics } from '../eval/metrics.js';
import { scoreSamples, type ScoredSamples } from '../eval/score-samples.js';
import { RUN_FILES } from '../run/files.js';
import { checkRunFolder } from '../run/run-folder.js';
import { SavedModel } from '../run/saved-model.js';
import { configHash } from '../run/config-hash.js';
import type { TrainConfig } from '../run/train-config.js';
import type { EpochRecord } from '../train/history.js';
import { writeFileAtomic } from '../weights/atomic-write.js';
import { soupRuns } from './soup.js';
import { runTrainJob, type JobHooks } from './train-job.js';

export interface CvOptions {
  folds: number;
  /** Seeds the folds; default: the recipe's seed. */
  foldSeed?: number;
  /**
   * The images pooled and folded: training and validation ('all', the default), or training only,
   * when the untouched Validation split then measures the fold models, their soup and their ensemble.
   */
  pool: 'all' | 'train';
}

export interface FoldResult {
  fold: number;
  n: number;
  accuracy: number;
  f1: number;
  rocAuc: number | null;
  logLoss: number;
  ece: number;
  /** Accuracy with test-time flip (the mean of the image's and its mirror's probabilities). */
  flipAccuracy: number;
  /** The epoch whose validation accuracy was highest (the last of ties) and the one the run kept. */
  bestEpoch: number;
  keptEpoch: number;
  seconds: number;
  history: EpochRecord[];
}

export type Stat = { mean: number; sd: number };

export interface CvSummary {
  /** Where the folds and cv.json are. */
  folder: string;
  /** The recipe, without where it ran. */
  recipe: Omit<TrainConfig, 'out' | 'threads'>;
  configHash: string;
  folds: number;
  foldSeed: number;
  pool: CvOptions['pool'];
  classes: string[];
  images: number;
  perFold: FoldResult[];
  /** Over folds (sample standard deviation). */
  accuracy: Stat;
  f1: Stat;
  rocAuc: Stat;
  logLoss: Stat;
  ece: Stat;
  flipAccuracy: Stat;
  /** Mean validation accuracy and loss over the folds after each epoch. */
  byEpoch: { epoch: number; accuracy: number; loss: number }[];
  /** All folds' held-out predictions together, at the recipe's threshold and at the best one. */
  pooled: { accuracy: number; ece: number; bestThreshold: number; accuracyAtBest: number };
  seconds: number;
  /** With pool 'train': the untouched Validation split under each fold model, their soup and ensemble. */
  heldOut?: { n: number; foldModels: number[]; soup: Metrics; ensemble: Metrics };
}

export const stat = (xs: number[]): Stat => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd };
};

/** The recipe each fold trains with: the given one keeping its last epoch, on its fold's images only. */
export function cvRecipe(base: TrainConfig): TrainConfig {
  return { ...base, keep: 'last', allLabelled: false };
}

/**
 * The folder a recipe's cross-validation lives in under `root`: named by the fold recipe (cvRecipe)
 * and the fold plan.
 */
export function cvFolder(root: string, c: TrainConfig, o: CvOptions): string {
  return join(root, `${configHash(c)}-k${o.folds}-s${o.foldSeed ?? c.seed}-${o.pool}`);
}

/**
 * K-fold cross-validation of a recipe: the labelled images are pooled and split into stratified,
 * seeded folds; one run per fold trains on the others and keeps its last epoch (the final fit has no
 * validation to choose one on), and is measured on its fold. A finished fold is read back, not
 * trained again, so a comparison that stops can go on where it stopped; its folder is named by the
 * recipe's fingerprint and the fold plan.
 */
export async function runCv(base: TrainConfig, o: CvOptions, hooks: JobHooks): Promise<CvSummary> {
  const foldSeed = o.foldSeed ?? base.seed;
  const c = cvRecipe(base);
  const root = cvFolder(base.out, c, o);
  const ds = discoverDataset(c.data, { seed: c.seed, splitFractions: c.splitFractions });
  if (ds.classes.length !== 2)
    throw new Error(
      `--data ${c.data}: found ${ds.classes.length} classes (${ds.classes.join(', ')}); cross-validation measures two-class runs only (F1, ROC-AUC and calibration of the positive class); train and evaluate work with more`,
    );
  const pooled = o.pool === 'all' ? [...ds.splits.train, ...ds.splits.val] : ds.splits.train;
  const folds = stratifiedFolds(pooled, ds.classes.length, o.folds, foldSeed);
  const perFold: FoldResult[] = [];
  const oof: { labels: number[]; probs: number[] } = { labels: [], probs: [] };
  for (const [k, val] of folds.entries()) {
    const out = join(root, `fold-${k + 1}`);
    const train = folds.flatMap((f, j) => (j === k ? [] : f));
    const state = checkRunFolder(out, c.data);
    hooks.log(`\nfold ${k + 1}/${o.folds}: ${train.length} to train, ${val.length} to validate -> ${out}`);
    let result = readFoldScores(out, val, c.data);
    if (!result || (o.pool === 'train' && state !== 'finished')) {
      if (state !== 'finished') {
        const r = await runTrainJob(
          { ...c, out },
          { ...hooks, log: () => {} },
          {
            resume: state === 'unfinished',
            splits: { train, val, layout: `fold ${k + 1} of ${o.folds} (seed ${foldSeed}) of ${ds.layout}` },
          },
        );
        if (r.outcome === 'interrupted')
          throw new Error(`interrupted; run the same command again to go on from fold ${k + 1}`);
      }
      result = await scoreFinishedFold(out, val, c);
    }
    const { history, scored, flipped } = result;
    oof.labels.push(...scored.labels);
    oof.probs.push(...scored.probs);
    const m = computeMetrics(scored.labels, scored.probs, { classes: ds.classes, threshold: c.threshold });
    const best = history.reduce((a, b) => ((b.valAcc ?? 0) >= (a.valAcc ?? 0) ? b : a));
    perFold.push({
      fold: k + 1,
      n: val.length,
      accuracy: m.accuracy,
      f1: m.f1,
      rocAuc: m.roc_auc,
      logLoss: m.log_loss,
      ece: m.calibration.ece,
      flipAccuracy: computeMetrics(flipped.labels, flipped.probs, {
        classes: ds.classes,
        threshold: c.threshold,
      }).accuracy,
      bestEpoch: best.epoch,
      keptEpoch: history.at(-1)!.epoch,
      seconds: history.reduce((s, h) => s + h.seconds, 0),
      history,
    });
    hooks.log(formatFoldRows(perFold.slice(-1)));
  }
  const pooledMetrics = computeMetrics(oof.labels, oof.probs, {
    classes: ds.classes,
    threshold: c.threshold,
  });
  const best = bestThreshold(oof.labels, oof.probs);
  const epochs = perFold[0].history.length;
  const summary: CvSummary = {
    folder: root,
    recipe: (({ out: _o, threads: _t, ...r }) => r)(c),
    configHash: configHash(c),
    folds: o.folds,
    foldSeed,
    pool: o.pool,
    classes: ds.classes,
    images: pooled.length,
    perFold,
    accuracy: stat(perFold.map((f) => f.accuracy)),
    f1: stat(perFold.map((f) => f.f1)),
    rocAuc: stat(perFold.map((f) => f.rocAuc ?? NaN)),
    logLoss: stat(perFold.map((f) => f.logLoss)),
    ece: stat(perFold.map((f) => f.ece)),
    flipAccuracy: stat(perFold.map((f) => f.flipAccuracy)),
    byEpoch: Array.from({ length: epochs }, (_, e) => ({
      epoch: e + 1,
      accuracy: stat(perFold.map((f) => f.history[e]?.valAcc ?? NaN)).mean,
      loss: stat(perFold.map((f) => f.history[e]?.valLoss ?? NaN)).mean,
    })),
    pooled: {
      accuracy: pooledMetrics.accuracy,
      ece: pooledMetrics.calibration.ece,
      bestThreshold: best.threshold,
      accuracyAtBest: best.accuracy,
    },
    // The folds' own training time, whether trained now or read back, so a re-read keeps the figure.
    seconds: perFold.reduce((t, f) => t + f.seconds, 0),
  };
  if (o.pool === 'train')
    summary.heldOut = await measureSoup(c, root, folds.length, ds.splits.val, ds.classes);
  await writeFileAtomic(
    join(root, 'cv.json'),
    new TextEncoder().encode(JSON.stringify(summary, null, 2) + '\n'),
  );
  return summary;
}

/**
 * What a fold contributes to the summary, kept beside its run (RUN_FILES.foldScores): small enough to
 * commit, so that a comparison goes on in a later checkout without the fold's model.
 */
export interface FoldScores {
  /** Relative to the data root. */
  images: string[];
  history: EpochRecord[];
  scored: { labels: number[]; probs: number[] };
  flipped: { labels: number[]; probs: number[] };
}

/** A fold's saved scores, if they are there and for these images. */
function readFoldScores(dir: string, val: Sample[], data: string): FoldScores | null {
  const file = join(dir, RUN_FILES.foldScores);
  if (!existsSync(file)) return null;
  const s = readFoldScoresFile(dir);
  const same = s.images.length === val.length && val.every((v, i) => relative(data, v.path) === s.images[i]);
  if (!same)
    throw new Error(`${file}: scores of other images than this fold's; delete the file to score it again`);
  return s;
}

/** The scores saved in a fold's folder (or a fold soup's). */
export const readFoldScoresFile = (dir: string): FoldScores =>
  JSON.parse(readFileSync(join(dir, RUN_FILES.foldScores), 'utf8')) as FoldScores;

const plain = (s: ScoredSamples) => ({ labels: Array.from(s.labels), probs: Array.from(s.probs) });

/**
 * Scores a finished fold's model (or a soup of fold models, which has no history) on its images, with
 * and without flip, and saves the scores.
 */
export async function scoreFinishedFold(dir: string, val: Sample[], c: TrainConfig): Promise<FoldScores> {
  const scored = plain(await scoreFold(dir, val, c, c.tta));
  const history = join(dir, RUN_FILES.history);
  const s: FoldScores = {
    images: val.map((v) => relative(c.data, v.path)),
    history: existsSync(history) ? (JSON.parse(readFileSync(history, 'utf8')) as EpochRecord[]) : [],
    scored,
    // A run that scores with test-time flip already gave the flipped scores.
    flipped: c.tta ? scored : plain(await scoreFold(dir, val, c, true)),
  };
  await writeFileAtomic(join(dir, RUN_FILES.foldScores), new TextEncoder().encode(JSON.stringify(s) + '\n'));
  return s;
}

/** A finished fold's held-out P(positive), from its saved model as evaluate would score them. */
async function scoreFold(dir: string, samples: Sample[], c: TrainConfig, tta: boolean) {
  const model = await SavedModel.load(dir, { threads: c.threads });
  try {
    return await scoreSamples((x) => model.logits(x), samples, {
      preprocess: model.preprocess,
      numClasses: model.classes.length,
      batch: c.batch,
      tta,
      onBadImage: c.onBadImage,
    });
  } finally {
    await model.release();
  }
}

/** The threshold on P(positive) with the highest accuracy on these predictions (the middle of ties). */
export function bestThreshold(labels: number[], probs: number[]): { threshold: number; accuracy: number } {
  const order = probs.map((p, i) => [p, labels[i]] as const).sort((a, b) => a[0] - b[0]);
  // Everything positive at first; moving the threshold past sample j makes it negative.
  let correct = labels.filter((y) => y === 1).length;
  let best = { threshold: 0, accuracy: correct / labels.length };
  for (let j = 0; j < order.length; j++) {
    correct += order[j][1] === 0 ? 1 : -1;
    if (j + 1 < order.length && order[j + 1][0] === order[j][0]) continue;
    const threshold = j + 1 < order.length ? (order[j][0] + order[j + 1][0]) / 2 : 1;
    if (correct / labels.length > best.accuracy) best = { threshold, accuracy: correct / labels.length };
  }
  return best;
}

/**
 * The fold models on the untouched Validation split: each alone, their soup (one plain model with the
 * mean of their merged updates) and their ensemble (the mean of their logits).
 */
async function measureSoup(c: TrainConfig, root: string, k: number, val: Sample[], classes: string[]) {
  const foldDirs = Array.from({ length: k }, (_, i) => join(root, `fold-${i + 1}`));
  const soupDir = join(root, 'soup');
  // Finished folds are never retrained, so a soup made of them before still holds.
  if (!existsSync(join(soupDir, RUN_FILES.model))) await soupRuns(foldDirs, soupDir);
  const logitsOf = async (dir: string) => {
    const model = await SavedModel.load(dir, { threads: c.threads });
    try {
      const logits: number[] = [];
      const s = await scoreSamples(
        async (x) => {
          const l = await model.logits(x);
          logits.push(...l);
          return l;
        },
        val,
        {
          preprocess: model.preprocess,
          numClasses: classes.length,
          batch: c.batch,
          tta: false,
          onBadImage: c.onBadImage,
        },
      );
      return { logits, labels: s.labels };
    } finally {
      await model.release();
    }
  };
  const runs = await Promise.all(foldDirs.map(logitsOf));
  const labels = runs[0].labels;
  const metricsOf = (logits: ArrayLike<number>) =>
    computeMetrics(
      labels,
      positiveProbabilities(probabilities(logits, classes.length, false), classes.length),
      {
        classes,
        threshold: c.threshold,
        split: 'validation',
      },
    );
  const mean = runs[0].logits.map((_, j) => runs.reduce((s, r) => s + r.logits[j], 0) / k);
  const soup = await logitsOf(soupDir);
  return {
    n: labels.length,
    foldModels: runs.map((r) => metricsOf(r.logits).accuracy),
    soup: metricsOf(soup.logits),
    ensemble: metricsOf(mean),
  };
}

export const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
export const pctPm = (x: Stat) => `${(100 * x.mean).toFixed(2)} ± ${(100 * x.sd).toFixed(2)}%`;

function formatFoldRows(rows: FoldResult[]): string {
  return rows
    .map(
      (f) =>
        `fold ${f.fold}: ${f.n} images, accuracy ${pct(f.accuracy)}, F1 ${f.f1.toFixed(4)}, ROC-AUC ${f.rocAuc?.toFixed(4) ?? '-'}, log-loss ${f.logLoss.toFixed(4)}, ECE ${f.ece.toFixed(4)}, best epoch ${f.bestEpoch} of ${f.keptEpoch}, ${f.seconds.toFixed(0)} s`,
    )
    .join('\n');
}

/** The summary as the terminal shows it: per-fold rows, mean ± sd, the epoch curve and the pooled threshold. */
export function formatCvSummary(s: CvSummary): string {
  const pm = (x: Stat, f = (v: number) => v.toFixed(4)) => `${f(x.mean)} ± ${f(x.sd)}`;
  const head = ['fold', 'images', 'accuracy', 'F1', 'ROC-AUC', 'log-loss', 'ECE', 'best epoch', 'time'];
  const cells = s.perFold.map((f) => [
    String(f.fold),
    String(f.n),
    pct(f.accuracy),
    f.f1.toFixed(4),
    f.rocAuc?.toFixed(4) ?? '-',
    f.logLoss.toFixed(4),
    f.ece.toFixed(4),
    `${f.bestEpoch}/${f.keptEpoch}`,
    `${f.seconds.toFixed(0)} s`,
  ]);
  cells.push([
    'mean ± sd',
    String(s.images),
    pctPm(s.accuracy),
    pm(s.f1),
    pm(s.rocAuc),
    pm(s.logLoss),
    pm(s.ece),
    '',
    '',
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...cells.map((r) => r[c].length)));
  const table = [head, ...cells]
    .map((r) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  '))
    .join('\n');
  const peak = s.byEpoch.reduce((a, b) => (b.accuracy >= a.accuracy ? b : a));
  const lines = [
    `${s.folds}-fold cross-validation (folds seeded ${s.foldSeed}) of ${s.images} ${s.pool === 'all' ? 'training and validation' : 'training'} images; each fold keeps its last epoch`,
    table,
    `mean validation accuracy by epoch: ${s.byEpoch.map((e) => `${e.epoch}: ${pct(e.accuracy)}`).join(', ')}; highest after epoch ${peak.epoch}`,
    `all folds' predictions together: accuracy ${pct(s.pooled.accuracy)} at threshold ${s.recipe.threshold}, ECE ${s.pooled.ece.toFixed(4)}; the best threshold on them, ${s.pooled.bestThreshold.toFixed(3)}, gives ${pct(s.pooled.accuracyAtBest)} (tuned on these very predictions, so optimistic)`,
    `with test-time flip: accuracy ${pctPm(s.flipAccuracy)}`,
    `time: ${(s.seconds / 60).toFixed(1)} min of training over the folds`,
  ];
  if (s.heldOut)
    lines.push(
      `on the untouched Validation split (${s.heldOut.n} images): fold models ${s.heldOut.foldModels.map(pct).join(', ')}; their soup ${pct(s.heldOut.soup.accuracy)}; their logit ensemble ${pct(s.heldOut.ensemble.accuracy)}`,
    );
  return lines.join('\n');
}
