import { Command, Option } from 'commander';
import { formatCvSummary, runCv } from '../../jobs/cv.js';
import { formatSeedsSummary, runCvSeeds } from '../../jobs/cv-seeds.js';
import { onInterrupt } from '../interrupt.js';
import { parse } from '../parse.js';
import { addTrainOptions, configFromOptions } from './train.js';

export function cvCommand(): Command {
  return addTrainOptions(
    new Command('cv').description(
      'cross-validate a recipe: stratified folds of the labelled images, one run per fold, mean ± sd of accuracy, F1, ROC-AUC and log-loss',
    ),
  )
    .requiredOption('--out <folder>', 'results folder; each recipe and fold plan gets its own folder inside')
    .option('--folds <k>', 'number of folds', parse.int(2), 5)
    .option('--fold-seed <n>', 'seed of the folds (default: --seed)', parse.int(0))
    .addOption(
      new Option(
        '--pool <images>',
        "images to fold: 'all' labelled ones, or 'train' only (then Validation measures the fold models, their soup and their ensemble)",
      )
        .choices(['all', 'train'])
        .default('all'),
    )
    .option(
      '--seeds <list>',
      "repeat the recipe over these training seeds on the same folds (folds seeded by the first, unless --fold-seed): each seed's figures, how far a fold moves between seeds, and the seeds' ensemble and soup per fold",
      parse.list(parse.int(0)),
    )
    .action(async (o) => {
      const config = configFromOptions(o, o.out);
      const options = { folds: o.folds, foldSeed: o.foldSeed, pool: o.pool };
      const log = (line: string) => process.stdout.write(line + '\n');
      const interrupt = onInterrupt(log);
      try {
        const hooks = { log, shouldStop: interrupt.requested };
        if (o.seeds) {
          const summary = await runCvSeeds(config, o.seeds, options, hooks);
          log(`\n${formatSeedsSummary(summary)}\nwrote ${summary.folder}/seeds.json`);
        } else {
          const summary = await runCv(config, options, hooks);
          log(`\n${formatCvSummary(summary)}\nwrote ${summary.folder}/cv.json`);
        }
      } finally {
        interrupt.dispose();
      }
    });
}
