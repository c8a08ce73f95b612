import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import sharp from 'sharp';
import { PRECISIONS } from '../../run/files.js';
import { formatBytes, parseBytes } from '../../serve/errors.js';
import { SERVE_DEFAULTS } from '../../serve/options.js';
import { startServer } from '../../serve/server.js';
import { parse } from '../parse.js';

const bytes = (v: string): number => {
  try {
    return parseBytes(v);
  } catch (e) {
    throw new InvalidArgumentError(`${(e as Error).message}.`);
  }
};

const d = SERVE_DEFAULTS;

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the detector: an HTTP API (predict, Grad-CAM explain) and a web page')
    .requiredOption('--model <run folder>', "a folder written by 'smoker-lora train'")
    .option(
      '--backbone <file.onnx>',
      "the ONNX backbone the page's Train view fine-tunes (default: the run's own, if it is an ONNX file)",
    )
    .option('--port <n>', 'port (0: any free port)', parse.int(0), d.port)
    .option('--host <address>', 'address to listen on', d.host)
    .option(
      '--allowed-hosts <names>',
      'Host header names to answer besides IP addresses and localhost, e.g. detector.example.org',
      parse.list((v: string) => v),
      [],
    )
    .addOption(
      new Option(
        '--precision <p>',
        'which model file answers: model.onnx, or the fp16/int8 file `export` wrote into the run',
      )
        .choices(PRECISIONS)
        .default(d.precision),
    )
    .option('--model-name <name>', 'the model’s name in the KServe v2 endpoints (default: the run folder’s)')
    .option('--max-batch <n>', 'most images per model call', parse.int(1), d.maxBatch)
    .option(
      '--batch-window-ms <ms>',
      'how long an idle queue waits to fill a batch',
      parse.number(0),
      d.batchWindowMs,
    )
    .option('--body-limit <size>', 'largest upload, e.g. 10mb', bytes, d.bodyLimit)
    .option(
      '--max-pixels <n>',
      'largest image in pixels (decompression-bomb guard)',
      parse.number(1),
      d.maxPixels,
    )
    .option(
      '--timeout-ms <ms>',
      'per-request limit on queue + decode + inference',
      parse.number(1),
      d.timeoutMs,
    )
    .option('--threads <n>', 'ONNX Runtime threads', parse.int(1), availableParallelism())
    .action(async (o) => {
      // Every upload is new: libvips' operation cache would only hold memory. One libvips thread per
      // decode: the decode lanes, not libvips, decide how many cores decoding may take.
      sharp.cache(false);
      sharp.concurrency(1);
      const log = (line: string) => process.stderr.write(line + '\n');
      const server = await startServer({
        model: o.model,
        backbone: o.backbone,
        host: o.host,
        allowedHosts: o.allowedHosts,
        modelName: o.modelName,
        precision: o.precision,
        port: o.port,
        maxBatch: o.maxBatch,
        batchWindowMs: o.batchWindowMs,
        bodyLimit: o.bodyLimit,
        maxPixels: o.maxPixels,
        timeoutMs: o.timeoutMs,
        threads: o.threads,
        log,
      });
      process.stdout.write(
        `serving ${server.modelId} on ${server.url} (page: ${server.url}/, API: ${server.url}/v1/predict)\n` +
          `${o.precision} model; batches of up to ${o.maxBatch} within ${o.batchWindowMs} ms; uploads up to ${formatBytes(o.bodyLimit)}, ` +
          `${o.maxPixels / 1e6} megapixels, ${o.timeoutMs} ms per request\n`,
      );
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) process.exit(130);
        stopping = true;
        log(`${signal}: finishing in-flight requests (again to quit now)`);
        server.close().then(
          () => process.exit(0),
          (e: Error) => {
            log(`smoker-lora: ${e.message}`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
