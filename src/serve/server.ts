import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { GradCam, type Explanation } from '../eval/grad-cam.js';
import { SavedModel } from '../eval/saved-model.js';
import { f32 } from '../graph/tensor.js';
import { BatchQueue, type BatchQueueStats } from './batch-queue.js';
import { ApiError, toApiError } from './errors.js';
import { describeModelFile, positiveProbabilities, readRunMetrics } from './inference.js';
import { registerApi } from './routes.js';

export interface ServeOptions {
  /** A run folder written by 'smoker-lora train' (config.json + model.onnx). */
  model: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Most images per model call. */
  maxBatch: number;
  /** How long an idle queue waits for more requests before running a batch. */
  batchWindowMs: number;
  /** Largest accepted upload, in bytes. */
  bodyLimit: number;
  /** Largest accepted image, in pixels (width x height), checked before decoding. */
  maxPixels: number;
  /** Per-request limit on queueing, decoding and inference after the upload arrived. */
  timeoutMs: number;
  /** ONNX Runtime intra-op threads per session (default: ORT's choice, all cores). */
  threads?: number;
  /** Images waiting for the model at most; more get 503 at once. */
  maxPending?: number;
  /** Grad-CAM overlays are drawn on the image scaled to at most this many pixels on its long side. */
  overlayMaxSide?: number;
  /** One line per error and the start-up lines (default: stderr). */
  log?: (line: string) => void;
}

/** The server's default settings, shared by `smoker-lora serve` and anyone starting it from code. */
export const SERVE_DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  maxBatch: 32,
  batchWindowMs: 5,
  bodyLimit: 10 * 1024 * 1024,
  maxPixels: 40e6,
  timeoutMs: 10_000,
} satisfies Omit<ServeOptions, 'model'>;

export interface ServerContext {
  opts: Required<Omit<ServeOptions, 'threads' | 'log'>> & { threads?: number };
  model: SavedModel;
  modelFile: Awaited<ReturnType<typeof describeModelFile>>;
  metrics: Awaited<ReturnType<typeof readRunMetrics>>;
  predictQueue: BatchQueue<Float32Array, number>;
  /** Absent when Grad-CAM could not be built for this model (see explainError). */
  explainQueue?: BatchQueue<Float32Array, Explanation>;
  explainError?: string;
  started: number;
  log(line: string): void;
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  app: FastifyInstance;
  modelId: string;
  stats(): { predict: BatchQueueStats; explain?: BatchQueueStats };
  /** Stops accepting, finishes in-flight requests, then frees the models. */
  close(): Promise<void>;
}

/** The files of onnxruntime-web the page needs (its single-file WebAssembly build). */
export const ORT_WEB_FILES = [
  'ort.wasm.min.mjs',
  'ort-wasm-simd-threaded.mjs',
  'ort-wasm-simd-threaded.wasm',
];

const WEB_TYPES = new Set(['.html', '.js', '.css', '.svg', '.png', '.ico']);

/** web/ beside src/ (or dist/src/): walks up from this module to the first folder with web/index.html. */
export function webRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'web', 'index.html'))) return join(dir, 'web');
    const up = dirname(dir);
    if (up === dir) throw new Error('serve: cannot find web/index.html above the server module');
    dir = up;
  }
}

export function ortWebRoot(): string {
  return dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
}

/** Everything a page of this origin may load: only itself (no CDNs, no external requests). */
const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "img-src 'self' blob: data:",
  "media-src 'self' blob: mediastream:",
  "connect-src 'self'",
  "style-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Loads the run, starts the batch queues and listens. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const opts: ServerContext['opts'] = {
    maxPending: 1024,
    overlayMaxSide: 768,
    ...options,
  };
  if (!(opts.timeoutMs >= 1)) throw new Error(`--timeout-ms ${opts.timeoutMs} must be >= 1`);
  const [model, modelFile, metrics] = await Promise.all([
    // Batches vary in size from 1 to maxBatch: without ORT's arena the RSS stays flat (see Session).
    SavedModel.load(opts.model, { threads: opts.threads, memArena: false }),
    describeModelFile(opts.model).catch(() => {
      throw new Error(`--model ${opts.model}: has no readable model.onnx`);
    }),
    readRunMetrics(opts.model),
  ]);
  const queueOpts = { maxBatch: opts.maxBatch, windowMs: opts.batchWindowMs, maxPending: opts.maxPending };
  const tta = Boolean(model.info.tta);
  const predictQueue = new BatchQueue<Float32Array, number>(
    (images) => positiveProbabilities(model, images, tta),
    queueOpts,
  );
  let cam: GradCam | undefined;
  let explainQueue: BatchQueue<Float32Array, Explanation> | undefined;
  let explainError: string | undefined;
  try {
    const c = await GradCam.create(opts.model, { threads: opts.threads, memArena: false });
    const [h, w] = c.size;
    const per = 3 * h * w;
    explainQueue = new BatchQueue<Float32Array, Explanation>((images) => {
      const input = f32([images.length, 3, h, w]);
      images.forEach((x, i) => input.data.set(x, i * per));
      return c.explainBatch(input);
    }, queueOpts);
    cam = c;
  } catch (e) {
    explainError = (e as Error).message;
    log(`serve: Grad-CAM is not available for this model, /v1/explain answers 501 (${explainError})`);
  }

  const ctx: ServerContext = {
    opts,
    model,
    modelFile,
    metrics,
    predictQueue,
    explainQueue,
    explainError,
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

export async function buildApp(ctx: ServerContext): Promise<FastifyInstance> {
  const { opts, log } = ctx;
  const app = Fastify({
    logger: false,
    bodyLimit: opts.bodyLimit,
    // A client that takes this long to send its request gets 408 from Node and is disconnected.
    requestTimeout: 60_000,
  });

  // Exact API paths and their methods, so a known path with the wrong method gets 405, not 404.
  const methods = new Map<string, Set<string>>();
  app.addHook('onRoute', (r) => {
    if (r.url.includes('*') || r.url.includes(':')) return;
    const set = methods.get(r.url) ?? new Set<string>();
    for (const m of [r.method].flat()) set.add(m);
    methods.set(r.url, set);
  });

  const send = (
    reply: import('fastify').FastifyReply,
    req: import('fastify').FastifyRequest,
    e: ApiError,
  ) => {
    log(`${new Date().toISOString()} ${e.status} ${req.method} ${req.url} ${e.code}: ${e.message}`);
    return reply
      .code(e.status)
      .headers(e.headers)
      .type('application/json; charset=utf-8')
      .send({ error: { code: e.code, message: e.message } });
  };
  app.setErrorHandler((err, req, reply) => {
    const e = toApiError(err, { bodyLimit: opts.bodyLimit, contentType: req.headers['content-type'] });
    if (e.status >= 500 && e.code === 'internal' && process.env.SMOKER_LORA_DEBUG)
      log(String((err as Error).stack));
    return send(reply, req, e);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    const allowed = methods.get(path);
    if (allowed && !allowed.has(req.method)) {
      const allow = [...allowed].sort().join(', ');
      return send(
        reply,
        req,
        new ApiError(405, 'method_not_allowed', `${req.method} is not allowed on ${path}; use ${allow}`, {
          allow,
        }),
      );
    }
    return send(reply, req, new ApiError(404, 'not_found', `no such endpoint: ${req.method} ${path}`));
  });

  app.addHook('onSend', async (_req, reply, payload) => {
    // Cross-origin isolation lets the page's WebAssembly use threads; everything is same-origin anyway.
    reply.header('cross-origin-opener-policy', 'same-origin');
    reply.header('cross-origin-embedder-policy', 'require-corp');
    reply.header('cross-origin-resource-policy', 'same-origin');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    const type = String(reply.getHeader('content-type') ?? '');
    if (type.startsWith('text/html')) reply.header('content-security-policy', CSP);
    return payload;
  });

  // Bodies: raw image/* as a Buffer, multipart/form-data via @fastify/multipart; nothing else.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(/^image\/[a-z0-9.+-]+$/i, { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  );
  await app.register(multipart, {
    limits: { fileSize: opts.bodyLimit, files: 1, fields: 10, fieldSize: 64 * 1024, parts: 20 },
  });

  await app.register(fastifyStatic, {
    root: webRoot(),
    prefix: '/',
    index: ['index.html'],
    allowedPath: (path) => WEB_TYPES.has(extname(path)) || path === '/',
  });
  const ortFiles = new Set(ORT_WEB_FILES.map((f) => `/${f}`));
  await app.register(fastifyStatic, {
    root: ortWebRoot(),
    prefix: '/ort/',
    decorateReply: false,
    index: false,
    allowedPath: (path) => ortFiles.has(path),
  });

  registerApi(app, ctx);
  return app;
}
