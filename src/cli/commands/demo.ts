import { join } from 'node:path';
import { Command } from 'commander';
import { formatMetricsTable } from '../../eval/format-table.js';
import { DEMO_DEFAULTS, demoConfig, demoResumes, evaluateDemo } from '../../jobs/demo.js';
import { RUN_FILES } from '../../run/files.js';
import { parse } from '../parse.js';
import { trainInTerminal } from '../train-in-terminal.js';

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'the main job: train MobileNetV2 + LoRA on the smoking set, evaluate on Validation, write the report',
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
      const done = await trainInTerminal(config, demoResumes(config), "run 'npm run demo' again to continue");
      if (!done) return;
      const { metrics, out } = await evaluateDemo(config, done.progress.log);
      done.progress.log(
        `\nValidation, measured again on the saved model.onnx:\n${formatMetricsTable(metrics, { color: Boolean(process.stdout.isTTY) })}`,
      );
      done.progress.log(`report: ${join(config.out, RUN_FILES.report)} (and ${join(out, RUN_FILES.report)})`);
    });
}
