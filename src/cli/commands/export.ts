import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import { DEFAULT_CALIBRATION_IMAGES } from '../../export/calibration-images.js';
import { EXPORT_FORMATS, exportRun, type ExportFormat } from '../../export/export-run.js';
import { parse } from '../parse.js';

export function exportCommand(): Command {
  return new Command('export')
    .description(
      'export a run for deployment: ONNX fp16/int8, transformers.js, a Triton repository, a PEFT adapter',
    )
    .requiredOption('--model <run folder>', "a folder written by 'smoker-lora train'")
    .addOption(new Option('--format <format>', 'what to write').choices(EXPORT_FORMATS).makeOptionMandatory())
    .requiredOption('--out <folder>', 'a new or empty folder to write into')
    .option('--data <root>', "int8 calibration data (default: the run's own, config.json's data)")
    .option(
      '--calibration <n>',
      'training images int8 calibration measures activations on',
      parse.int(1),
      DEFAULT_CALIBRATION_IMAGES,
    )
    .addOption(
      new Option('--calibration-method <m>', 'activation ranges: the extremes, or the 99.999th percentile')
        .choices(['minmax', 'percentile'])
        .default('minmax'),
    )
    .option('--name <name>', "the model's name in a Triton repository (default: the run folder's)")
    .option('--max-batch <n>', "Triton's max_batch_size", parse.int(1), 32)
    .option('--threads <n>', 'ONNX Runtime threads for calibration', parse.int(1), availableParallelism())
    .action(async (o) => {
      const files = await exportRun(o.model, o.format as ExportFormat, {
        out: o.out,
        data: o.data,
        calibration: o.calibration,
        calibrationMethod: o.calibrationMethod,
        name: o.name,
        maxBatch: o.maxBatch,
        threads: o.threads,
      });
      process.stdout.write(`${o.format}: wrote ${files.map((f) => `${o.out}/${f}`).join(', ')}\n`);
    });
}
