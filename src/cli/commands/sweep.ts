import { join } from 'node:path';
import { Command } from 'commander';
import { writeFileAtomic } from '../../weights/atomic-write.js';
import type { TrainConfig } from '../../train/train-config.js';
import { runTrainJob } from '../../train/train-job.js';
import { onInterrupt } from '../interrupt.js';
import { parse } from '../parse.js';
import { addTrainOptions, configFromOptions } from './train.js';

export interface SweepRow {
  name: string;
  valAcc: number;
  f1: number;
  auc: number | null;
  bestEpoch: number;
  trainable: number;
  seconds: number;
}

/** Every combination of the listed values, as named config variants. */
function grid(
  base: TrainConfig,
  lists: {
    rank?: number[];
    lr?: number[];
    alpha?: number[];
    schedule?: TrainConfig['schedule'][];
    seed?: number[];
  },
) {
  let variants: { name: string[]; config: TrainConfig }[] = [{ name: [], config: base }];
  for (const [key, values] of Object.entries(lists) as [
    keyof typeof lists,
    (number | string)[] | undefined,
  ][]) {
    if (!values) continue;
    variants = variants.flatMap((v) =>
      values.map((x) => ({ name: [...v.name, `${key}=${x}`], config: { ...v.config, [key]: x } })),
    );
  }
  return variants.map((v) => ({ name: v.name.join(' ') || 'base', config: v.config }));
}

function table(rows: SweepRow[]): string {
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

export function sweepCommand(): Command {
  return addTrainOptions(
    new Command('sweep').description(
      'train every combination of the listed settings and compare them on validation',
    ),
  )
    .requiredOption('--out <folder>', 'one run folder per setting is made inside')
    .option('--ranks <list>', 'LoRA ranks, e.g. 4,8,12,16', parse.list(parse.int(1)))
    .option('--lrs <list>', 'learning rates', parse.list(parse.number(0)))
    .option('--alphas <list>', 'LoRA alphas', parse.list(parse.number(0)))
    .option(
      '--schedules <list>',
      'LR schedules',
      parse.list(parse.choice(['constant', 'cosine', 'step', 'linear'] as const)),
    )
    .option('--seeds <list>', 'seeds', parse.list(parse.int(0)))
    .action(async (o) => {
      const base = configFromOptions(o, o.out);
      const variants = grid(base, {
        rank: o.ranks,
        lr: o.lrs,
        alpha: o.alphas,
        schedule: o.schedules,
        seed: o.seeds,
      });
      const log = (line: string) => process.stdout.write(line + '\n');
      const interrupt = onInterrupt(log);
      const rows: SweepRow[] = [];
      try {
        for (const [k, v] of variants.entries()) {
          const out = join(o.out, v.name.replace(/[ =]/g, (ch) => (ch === ' ' ? '_' : '-')) || 'base');
          log(`\n[${k + 1}/${variants.length}] ${v.name} -> ${out}`);
          const r = await runTrainJob(
            { ...v.config, out },
            { log: () => {}, shouldStop: interrupt.requested },
          );
          if (r.outcome === 'interrupted' || !r.metrics) {
            log(`interrupted; ${out} can be resumed with 'smoker-lora train --resume'`);
            break;
          }
          const best = r.history.reduce((a, b) => (b.valAcc > a.valAcc ? b : a));
          rows.push({
            name: v.name,
            valAcc: r.metrics.accuracy,
            f1: r.metrics.f1,
            auc: r.metrics.roc_auc,
            bestEpoch: best.epoch,
            trainable: r.trainable,
            seconds: r.seconds,
          });
          log(table(rows.slice(-1)));
        }
      } finally {
        interrupt.dispose();
      }
      log(`\n${table(rows)}`);
      await writeFileAtomic(
        join(o.out, 'sweep.json'),
        new TextEncoder().encode(JSON.stringify(rows, null, 2) + '\n'),
      );
    });
}
