import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { Command, Option } from 'commander';
import { requireTwoClassesFor } from '../../classify/classify.js';
import { expandInputs } from '../../data/expand-inputs.js';
import { predictFiles, type FilePrediction } from '../../eval/predict-files.js';
import { SavedModel } from '../../run/saved-model.js';
import { parse } from '../parse.js';

const csvCell = (v: unknown) =>
  typeof v === 'string' && /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v ?? '');

function row(p: FilePrediction, format: string): string {
  const file = relative(process.cwd(), p.path) || p.path;
  if (format === 'json') return JSON.stringify({ ...p, path: file });
  if (format === 'csv')
    return [file, p.label, p.probability?.toFixed(6), p.ms.toFixed(2), p.error].map(csvCell).join(',');
  return p.error
    ? `${file}  error: ${p.error}`
    : `${file}  ${p.label!.padEnd(10)}  ${p.probability!.toFixed(4)}  ${p.ms.toFixed(1)} ms`;
}

export function predictCommand(): Command {
  return new Command('predict')
    .description('label images: files, folders or quoted globs')
    .argument('<inputs...>', 'image files, folders, or globs such as "photos/*.jpg"')
    .requiredOption('--model <run folder>', "a folder written by 'smoker-lora train'")
    .addOption(new Option('--format <format>', 'output').choices(['table', 'json', 'csv']).default('table'))
    .option('--json', 'same as --format json (one JSON object per line)')
    .option('--csv', 'same as --format csv')
    .option(
      '--threshold <p>',
      'decision threshold on P(positive class: the second, e.g. smoking), for two-class runs (default: the run’s)',
      parse.number(0, 1),
    )
    .option('--tta', 'average with the mirrored image (default: as trained)')
    .option('--batch <n>', 'images per model call', parse.int(1), 32)
    .option('--threads <n>', 'ONNX Runtime threads', parse.int(1), availableParallelism())
    .action(async (inputs: string[], o) => {
      const format: string = o.json ? 'json' : o.csv ? 'csv' : o.format;
      const paths = expandInputs(inputs);
      const model = await SavedModel.load(o.model, { threads: o.threads });
      const out = (line: string) => process.stdout.write(line + '\n');
      let failed = 0;
      try {
        if (o.threshold !== undefined) requireTwoClassesFor('--threshold', model.classes);
        if (format === 'csv') out('path,label,probability,ms,error');
        const shown = model.classes.length === 2 ? model.classes.at(-1) : 'label';
        if (format === 'table') out(`file  label  P(${shown})  time/image`);
        for await (const p of predictFiles(model, paths, {
          batch: o.batch,
          threshold: o.threshold ?? model.info.threshold,
          tta: o.tta ?? model.info.tta,
        })) {
          if (p.error) failed++;
          out(row(p, format));
        }
      } finally {
        await model.release();
      }
      if (failed > 0) {
        process.stderr.write(`smoker-lora: ${failed} of ${paths.length} files could not be read as images\n`);
        process.exitCode = 1;
      }
    });
}
