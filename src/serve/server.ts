import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { basename, resolve } from 'node:path';
import type { Explanation, GradCam } from '../eval/grad-cam.js';
import { packBatch } from '../data/pack-batch.js';
import { MODEL_FILE_OF } from '../run/files.js';
import { deployedModelName } from '../run/model-name.js';
import { loadGradCam, SavedModel } from '../run/saved-model.js';
import { buildApp, packageVersion } from './app.js';
import { findTrainBackbone } from './backbone-file.js';
import { BatchQueue, type BatchQueueStats } from './batch-queue.js';
import type { ServerContext } from './context.js';
import { classify, describeModelFile, type ImageOutputs, readRunMetrics } from './inference.js';
import { checkServeOptions, type ServeOptions } from './options.js';
import { UploadDecoder } from './image-input.js';

export interface RunningServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  app: FastifyInstance;
  modelId: string;
  stats(): { predict: BatchQueueStats; explain?: BatchQueueStats };
  /** Stops accepting, finishes in-flight requests, then frees the models. */
  close(): Promise<void>;
}

/** Loads the run, starts the batch queues and listens. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const { log: _log, ...checked } = checkServeOptions(options);
  const opts: ServerContext['opts'] = {
    maxPending: 1024,
    overlayMaxSide: 768,
    allowedHosts: [],
    requestTimeoutMs: 60_000,
    ...checked,
  };
  // Batches vary in size from 1 to maxBatch: without ORT's arena the RSS stays flat (see Session).
  // The model first: its errors say what is missing and how to make it.
  const model = await SavedModel.load(opts.model, {
    threads: opts.threads,
    memArena: false,
    precision: opts.precision,
  });
  const [modelFile, metrics] = await Promise.all([
    describeModelFile(opts.model, opts.precision).catch(async () => {
      await model.release();
      throw new Error(`--model ${opts.model}: has no readable ${MODEL_FILE_OF[opts.precision]}`);
    }),
    readRunMetrics(opts.model),
  ]);
  const train = await findTrainBackbone(opts.backbone, model.info.backbone);
  const queueOpts = { maxBatch: opts.maxBatch, windowMs: opts.batchWindowMs, maxPending: opts.maxPending };
  const predictQueue = new BatchQueue<Float32Array, ImageOutputs>(
    (images) => classify(model, images),
    queueOpts,
  );
  let cam: GradCam | undefined;
  let explainQueue: BatchQueue<Float32Array, Explanation> | undefined;
  let explainError: string | undefined;
  try {
    const c = await loadGradCam(opts.model, { threads: opts.threads, memArena: false });
    explainQueue = new BatchQueue<Float32Array, Explanation>(
      (images) => c.explainBatch(packBatch(images, c.size)),
      queueOpts,
    );
    cam = c;
  } catch (e) {
    // The reason is shown to clients: the run folder by its name only.
    explainError = (e as Error).message.split(resolve(opts.model)).join(basename(resolve(opts.model)));
    explainError = explainError.split(opts.model).join(basename(resolve(opts.model)));
    log(`serve: Grad-CAM is not available for this model, /v1/explain answers 501 (${explainError})`);
  }

  const ctx: ServerContext = {
    opts,
    model,
    modelFile,
    metrics,
    backbone: train.backbone,
    backboneError: train.reason,
    predictQueue,
    explainQueue,
    explainError,
    decoder: new UploadDecoder(opts.maxPixels),
    modelName: opts.modelName ?? deployedModelName(opts.model),
    version: packageVersion(),
    started: Date.now(),
    log,
  };
  const app = await buildApp(ctx);
  const release = async () => {
    await Promise.all([predictQueue.close(), explainQueue?.close()]);
    await Promise.all([model.release(), cam?.release()]);
  };
  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (e) {
    await app.close();
    await release();
    const err = e as NodeJS.ErrnoException;
    throw new Error(`cannot listen on ${opts.host}:${opts.port} (${err.code ?? err.message})`);
  }
  const { port } = app.server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}`,
    app,
    modelId: modelFile.id,
    stats: () => ({ predict: predictQueue.stats(), explain: explainQueue?.stats() }),
    async close() {
      await app.close();
      await release();
    },
  };
}
