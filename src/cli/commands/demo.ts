import { join } from 'node:path';
import { Command } from 'commander';
import { formatMetricsTable } from '../../eval/format-table.js';
import { DEMO_DEFAULTS, DEMO_RECIPE_NOTE, demoConfig, demoResumes, evaluateDemo } from '../../jobs/demo.js';
import { RUN_FILES } from '../../run/files.js';
import { parse } from '../parse.js';
import { trainInTerminal } from '../train-in-terminal.js';

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'the main job: the final fit of the recipe cross-validation chose (MobileNetV2 + LoRA on every labelled photo), its report, and its accuracy on the Testing split if the data has one',
    )
    .option('--data <folder>', 'smoking data set root', DEMO_DEFAULTS.data)
    .option('--backbone <file>', 'ONNX backbone', DEMO_DEFAULTS.backbone)
    .option(
      '--out <folder>',
      'run folder (if it holds a finished run: <folder>-2, -3, ...)',
      DEMO_DEFAULTS.out,
    )
    .option('--seed <n>', 'random seed, to repeat the demo over seeds', parse.int(0), DEMO_DEFAULTS.seed)
    .action(async (o: { data: string; backbone: string; out: string; seed: number }) => {
      const config = demoConfig(o);
      const done = await trainInTerminal(
        config,
        demoResumes(config),
        "run 'npm run demo' again to continue",
        DEMO_RECIPE_NOTE,
      );
      if (!done) return;
      const log = done.progress.log;
      const report = join(config.out, RUN_FILES.report);
      const test = await evaluateDemo(config, log);
      if (!test) {
        log(`\nno Testing split in ${config.data}: ${DEMO_RECIPE_NOTE}\nreport: ${report}`);
        return;
      }
      log(
        `\nTesting split, never seen in training:\n${formatMetricsTable(test.metrics, { color: Boolean(process.stdout.isTTY) })}`,
      );
      log(`report: ${report} (and ${join(test.out, RUN_FILES.report)})`);
    });
}
