#!/usr/bin/env node
import { Command } from 'commander';
import { cvCommand } from './commands/cv.js';
import { demoCommand } from './commands/demo.js';
import { evaluateCommand } from './commands/evaluate.js';
import { explainCommand } from './commands/explain.js';
import { exportCommand } from './commands/export.js';
import { predictCommand } from './commands/predict.js';
import { serveCommand } from './commands/serve.js';
import { soupCommand } from './commands/soup.js';
import { sweepCommand } from './commands/sweep.js';
import { trainCommand } from './commands/train.js';
import { webCommand } from './commands/web.js';
import { nameStrayArguments } from './stray-arguments.js';

const program = new Command('smoker-lora')
  .description('Detect smoking in photos: LoRA fine-tuning of CNNs on ONNX Runtime, in TypeScript')
  .showHelpAfterError('(run with --help for usage)')
  .addCommand(trainCommand())
  .addCommand(evaluateCommand())
  .addCommand(predictCommand())
  .addCommand(explainCommand())
  .addCommand(exportCommand())
  .addCommand(serveCommand())
  .addCommand(sweepCommand())
  .addCommand(cvCommand())
  .addCommand(soupCommand())
  .addCommand(demoCommand())
  .addCommand(webCommand());
nameStrayArguments(program);

// A reader that has read enough (`smoker-lora predict photos | head`) closes the pipe: stop quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') process.stderr.write(`smoker-lora: cannot write the output: ${e.message}\n`);
  process.exit(e.code === 'EPIPE' ? 0 : 1);
});

try {
  await program.parseAsync();
} catch (e) {
  // Expected failures (bad input, missing files, divergence) are one line; a stack trace would bury it.
  process.stderr.write(`smoker-lora: ${(e as Error).message}\n`);
  if (process.env.SMOKER_LORA_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
}
