import { Command } from 'commander';
import {
  formatCvSweepTable,
  formatSweepTable,
  runCvSweep,
  runSweep,
  sweepVariants,
} from '../../jobs/sweep.js';
import { onInterrupt } from '../interrupt.js';
import { parse } from '../parse.js';
import { SCHEDULE_NAMES } from '../../train/lr-schedule.js';
import { addTrainOptions, configFromOptions } from './train.js';

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
    .option('--schedules <list>', 'LR schedules', parse.list(parse.choice(SCHEDULE_NAMES)))
    .option('--seeds <list>', 'seeds', parse.list(parse.int(0)))
    .option(
      '--cv <k>',
      'compare by k-fold cross-validation of the labelled images, not by one split',
      parse.int(2),
    )
    .action(async (o) => {
      const variants = sweepVariants(configFromOptions(o, o.out), {
        rank: o.ranks,
        lr: o.lrs,
        alpha: o.alphas,
        schedule: o.schedules,
        seed: o.seeds,
      });
      const log = (line: string) => process.stdout.write(line + '\n');
      const interrupt = onInterrupt(log);
      try {
        const hooks = { log, shouldStop: interrupt.requested };
        if (o.cv) {
          const rows = await runCvSweep(o.out, variants, { folds: o.cv, pool: 'all' }, hooks);
          log(`\n${formatCvSweepTable(rows)}`);
        } else {
          const rows = await runSweep(o.out, variants, hooks);
          log(`\n${formatSweepTable(rows)}`);
        }
      } finally {
        interrupt.dispose();
      }
    });
}
