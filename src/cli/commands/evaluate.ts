import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { formatMetricsTable } from '../../eval/format-table.js';
import { runEvaluateJob } from '../../jobs/evaluate-job.js';
import { parse } from '../parse.js';

export function evaluateCommand(): Command {
  return new Command('evaluate')
    .description('measure a trained model on a split or a folder; writes metrics.json and report.md')
    .requiredOption('--model <run folder>', "a folder written by 'smoker-lora train'")
    .requiredOption(
      '--data <folder>',
      'a data set root (with --split) or one folder of labelled images, e.g. Testing/Testing',
    )
    .addOption(
      new Option('--split <name>', 'split of a data set root (default: test if present, else val)').choices([
        'train',
        'val',
        'test',
      ]),
    )
    .option(
      '--threshold <p>',
      'decision threshold on P(positive class: the second, e.g. smoking), for two-class runs (default: the run’s, 0.5)',
      parse.number(0, 1),
    )
    .option(
      '--target-recall <r>',
      "tune the threshold on the run's validation split to reach this recall",
      (v: string) => {
        if (parse.number(0, 1)(v) === 0) throw new InvalidArgumentError(`'${v}' is not a recall in (0, 1].`);
        return Number(v);
      },
    )
    .option(
      '--out <folder>',
      'where to write metrics.json and report.md (default: <model>/evaluation-<split>)',
    )
    .option('--tta', 'average with the mirrored image (default: as trained)')
    .option('--batch <n>', 'batch size', parse.int(1), 32)
    .option('--threads <n>', 'ONNX Runtime threads', parse.int(1), availableParallelism())
    .addOption(
      new Option('--on-bad-image <policy>', 'corrupt or unreadable images')
        .choices(['skip', 'fail'])
        .default('fail'),
    )
    .action(async (o) => {
      if (o.threshold !== undefined && o.targetRecall !== undefined)
        throw new Error('--threshold and --target-recall: give one of them');
      const log = (line: string) => process.stdout.write(line + '\n');
      const { metrics, out } = await runEvaluateJob(o, log);
      log(formatMetricsTable(metrics, { color: Boolean(process.stdout.isTTY) }));
      log(`wrote ${out}/metrics.json and ${out}/report.md`);
    });
}
