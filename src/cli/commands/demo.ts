import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { runEvaluateJob } from '../../eval/evaluate-job.js';
import { formatMetricsTable } from '../../eval/format-table.js';
import { DEMO_RECIPE } from '../../train/train-config.js';
import { RUN_FILES } from '../../train/run-files.js';
import { trainInTerminal } from '../train-in-terminal.js';

/** The read-only shared folder beside the repo (dist/src/cli/commands -> repo -> ..). */
const SHARED =
  process.env.SMOKER_SHARED ?? resolve(fileURLToPath(import.meta.url), '../../../../../../shared');

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'the main job: train MobileNetV2 + LoRA on the smoking set, evaluate on Validation, write the report',
    )
    .option('--data <folder>', 'smoking data set root', join(SHARED, 'data/smoking'))
    .option('--backbone <file>', 'ONNX backbone', join(SHARED, 'models/mobilenet_v2_1.0_224/model.onnx'))
    .option('--out <folder>', 'run folder (if it holds a finished run: <folder>-2, -3, ...)', 'runs/demo')
    .action(async (o: { data: string; backbone: string; out: string }) => {
      if (!existsSync(join(o.data, 'Training'))) {
        throw new Error(
          `no smoking data at ${resolve(o.data)}: download the Kaggle "Smoker Detection [Image] classification Dataset" (Khan et al., also on Mendeley Data), unzip it so that ${resolve(o.data)}/Training/Training/smoking_0001.jpg and .../Validation/Validation/ exist, or pass --data <folder>`,
        );
      }
      if (!existsSync(o.backbone)) {
        throw new Error(
          `no backbone at ${resolve(o.backbone)}: put an ImageNet MobileNetV2 ONNX file there (input NCHW in [-1,1], see README), or pass --backbone <file.onnx>`,
        );
      }
      const out = freeRunFolder(o.out);
      const config = {
        ...DEMO_RECIPE,
        data: o.data,
        backbone: o.backbone,
        out,
        threads: availableParallelism(),
        workers: Math.max(1, availableParallelism() - 1),
      };
      const done = await trainInTerminal(
        config,
        existsSync(join(out, RUN_FILES.checkpoint)),
        "run 'npm run demo' again to continue",
      );
      if (!done) return;
      const { metrics, out: evalOut } = await runEvaluateJob(
        {
          model: out,
          data: o.data,
          split: 'val',
          out: join(out, 'evaluation-validation'),
          batch: 32,
          threads: config.threads,
          workers: 1,
          onBadImage: 'fail',
        },
        done.progress.log,
      );
      done.progress.log(
        `\nValidation, measured again on the saved model.onnx:\n${formatMetricsTable(metrics, { color: Boolean(process.stdout.isTTY) })}`,
      );
      done.progress.log(`report: ${join(out, 'report.md')} (and ${join(evalOut, 'report.md')})`);
    });
}

/** `base`, or while it holds a finished run, `base-2`, `base-3`, ...: a demo never overwrites a result. */
function freeRunFolder(base: string): string {
  for (let k = 1; ; k++) {
    const dir = k === 1 ? base : `${base}-${k}`;
    if (!existsSync(join(dir, RUN_FILES.model))) return dir;
  }
}
