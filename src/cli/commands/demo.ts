import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { runEvaluateJob } from '../../eval/evaluate-job.js';
import { formatMetricsTable } from '../../eval/format-table.js';
import { DEMO_RECIPE } from '../../train/train-config.js';
import { runTrainJob } from '../../train/train-job.js';
import { onInterrupt } from '../interrupt.js';
import { createProgress } from '../progress.js';

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
    .option('--out <folder>', 'run folder', 'runs/demo')
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
      const config = {
        ...DEMO_RECIPE,
        data: o.data,
        backbone: o.backbone,
        out: o.out,
        threads: availableParallelism(),
        workers: Math.max(1, availableParallelism() - 1),
      };
      const progress = createProgress(config.epochs);
      const interrupt = onInterrupt(progress.log);
      try {
        const resume = existsSync(join(o.out, 'checkpoint.safetensors'));
        const r = await runTrainJob(
          config,
          {
            log: progress.log,
            onStep: (i) => progress.step(i),
            onEpochEnd: () => progress.endEpoch(),
            shouldStop: interrupt.requested,
          },
          { resume },
        );
        progress.endEpoch();
        if (r.outcome === 'interrupted') {
          progress.log(`stopped; run 'npm run demo' again to continue from the checkpoint in ${o.out}`);
          process.exitCode = 130;
          return;
        }
        progress.log(
          `trained in ${r.seconds.toFixed(1)} s (waiting for data: ${(100 * r.dataWait).toFixed(1)}% of step time)`,
        );
        const { metrics, out } = await runEvaluateJob(
          {
            model: o.out,
            data: o.data,
            split: 'val',
            out: join(o.out, 'evaluation-validation'),
            batch: 32,
            threads: config.threads,
            workers: 1,
            onBadImage: 'fail',
          },
          progress.log,
        );
        progress.log(
          `\nValidation (the best epoch's merged model.onnx):\n${formatMetricsTable(metrics, { color: Boolean(process.stdout.isTTY) })}`,
        );
        progress.log(`report: ${join(o.out, 'report.md')} and ${join(out, 'report.md')}`);
      } finally {
        interrupt.dispose();
      }
    });
}
