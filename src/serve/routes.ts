import { createReadStream } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { decide } from '../classify/classify.js';
import { backboneLabel } from '../export/backbone-label.js';
import { heatmapPng, overlayPng } from '../report/heatmap.js';
import { withDeadline } from './deadline.js';
import { ApiError } from './errors.js';
import { readUpload } from './image-input.js';
import type { ServerContext } from './context.js';

const ms = (v: number) => Math.round(v * 100) / 100;

const serverTiming = (t: Record<string, number>) =>
  Object.entries(t)
    .map(([k, v]) => `${k};dur=${ms(v)}`)
    .join(', ');

export function registerApi(app: FastifyInstance, ctx: ServerContext): void {
  const { model, opts, modelFile } = ctx;
  const info = model.info;
  const classes = model.classes;
  const k = classes.length;
  const positive = classes[k - 1];
  const threshold = info.threshold;
  /**
   * How the answers decide: two classes by P(positive) at the threshold; more by the most probable class,
   * where the threshold does not apply.
   */
  const decision = k === 2 ? { positiveClass: positive, threshold } : { decision: 'most probable class' };
  /** P(positive) with two classes; with more, P(label) and every class's probability by name. */
  const scores = (p: Float32Array, said: number) =>
    k === 2
      ? { probability: p[k - 1], threshold }
      : { probability: p[said], probabilities: Object.fromEntries(classes.map((c, j) => [c, p[j]])) };

  app.get('/healthz', async () => ({
    status: 'ok',
    model: modelFile.id,
    uptimeSeconds: Math.round((Date.now() - ctx.started) / 1000),
    memoryMb: Object.fromEntries(
      Object.entries(process.memoryUsage()).map(([k, v]) => [k, Math.round(v / 1e5) / 10]),
    ),
    explain: Boolean(ctx.explainQueue),
    queues: { predict: ctx.predictQueue.stats(), explain: ctx.explainQueue?.stats() ?? null },
  }));

  app.get('/v1/model', async () => ({
    id: modelFile.id,
    run: basename(resolve(model.dir)),
    backbone: backboneLabel(info.backbone),
    lora: {
      rank: info.rank,
      ...(info.rankPattern && { rankPattern: info.rankPattern }),
      alpha: info.alpha,
      targets: info.targets,
      rslora: Boolean(info.rslora),
      dora: Boolean(info.dora),
    },
    classes,
    ...decision,
    tta: Boolean(info.tta),
    preprocess: {
      ...model.preprocess,
      resize: 'the whole image (no crop, aspect not kept) to size [height, width], bilinear (antialiased)',
      alpha: 'flattened onto black',
      normalise: '(pixel/255 - mean[c]) / std[c], planar RGB',
    },
    input: { name: 'input', type: 'float32', shape: ['N', 3, ...model.preprocess.size] },
    output: { name: 'logits', type: 'float32', shape: ['N', classes.length] },
    onnx: {
      url: '/v1/model.onnx',
      precision: modelFile.precision,
      bytes: modelFile.bytes,
      sha256: modelFile.sha256,
    },
    trainBackbone: ctx.backbone
      ? { url: '/v1/backbone.onnx', name: ctx.backbone.name, bytes: ctx.backbone.bytes }
      : { url: null, reason: ctx.backboneError },
    metrics: ctx.metrics,
    explain: ctx.explainQueue ? { available: true } : { available: false, reason: ctx.explainError },
    limits: {
      maxBatch: opts.maxBatch,
      batchWindowMs: opts.batchWindowMs,
      bodyLimitBytes: opts.bodyLimit,
      maxPixels: opts.maxPixels,
      timeoutMs: opts.timeoutMs,
    },
  }));

  app.get('/v1/model.onnx', async (req, reply) => {
    const etag = `"${modelFile.sha256}"`;
    reply.header('etag', etag).header('cache-control', 'no-cache');
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply
      .type('application/octet-stream')
      .header('content-length', modelFile.bytes)
      .header('content-disposition', `attachment; filename="${basename(resolve(model.dir))}.onnx"`)
      .send(createReadStream(modelFile.path));
  });

  // The Train view's backbone: the file itself, named by its folder and file name only.
  app.get('/v1/backbone.onnx', async (req, reply) => {
    const b = ctx.backbone;
    if (!b) throw new ApiError(404, 'no_backbone', ctx.backboneError!);
    const etag = `"${b.sha256}"`;
    reply.header('etag', etag).header('cache-control', 'no-cache').header('x-backbone-name', b.name);
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply
      .type('application/octet-stream')
      .header('content-length', b.bytes)
      .header('content-disposition', `attachment; filename="${basename(b.path)}"`)
      .send(createReadStream(b.path));
  });

  app.post('/v1/predict', async (req, reply) => {
    const bytes = await readUpload(req);
    return withDeadline(reply, opts.timeoutMs, async (signal) => {
      const t0 = performance.now();
      const chw = await ctx.decoder.chw(bytes, model.preprocess, signal);
      const decode = performance.now() - t0;
      const r = await ctx.predictQueue.push(chw, signal);
      const timing = { queue: r.queueMs, decode, inference: r.runMs, total: performance.now() - t0 };
      reply.header('server-timing', serverTiming(timing));
      const said = decide(r.value.probabilities, k, 0, threshold);
      return {
        label: classes[said],
        ...scores(r.value.probabilities, said),
        model: modelFile.id,
        batchSize: r.batchSize,
        timingMs: Object.fromEntries(Object.entries(timing).map(([k, v]) => [k, ms(v)])),
      };
    });
  });

  app.post('/v1/explain', async (req: FastifyRequest<{ Querystring: Record<string, string> }>, reply) => {
    const format = req.query.format ?? 'png';
    if (!['png', 'json', 'heatmap'].includes(format))
      throw new ApiError(400, 'bad_request', `format '${format}' is not png, json or heatmap`);
    const alpha = req.query.alpha === undefined ? 0.5 : Number(req.query.alpha);
    if (!(alpha >= 0 && alpha <= 1))
      throw new ApiError(400, 'bad_request', `alpha '${req.query.alpha}' is not a number in [0, 1]`);
    const queue = ctx.explainQueue;
    if (!queue)
      throw new ApiError(
        501,
        'not_implemented',
        `Grad-CAM is not available for this model: ${ctx.explainError}`,
      );
    const bytes = await readUpload(req);
    return withDeadline(reply, opts.timeoutMs, async (signal) => {
      const t0 = performance.now();
      const chw = await ctx.decoder.chw(bytes, model.preprocess, signal);
      const decode = performance.now() - t0;
      const r = await queue.push(chw, signal);
      const e = r.value;
      const timing: Record<string, number> = { queue: r.queueMs, decode, inference: r.runMs };
      if (format === 'json') {
        timing.total = performance.now() - t0;
        reply.header('server-timing', serverTiming(timing));
        const [height, width] = e.size;
        return {
          label: e.label,
          probability: e.probability,
          ...(k === 2 ? { threshold: e.threshold } : {}),
          model: modelFile.id,
          batchSize: r.batchSize,
          heatmap: {
            height,
            width,
            layout: 'row-major [height][width], values in [0, 1] at the model input size',
            values: Array.from(e.heatmap, (v) => Math.round(v * 1e4) / 1e4),
          },
          timingMs: Object.fromEntries(Object.entries(timing).map(([k, v]) => [k, ms(v)])),
        };
      }
      const t1 = performance.now();
      const png =
        format === 'heatmap'
          ? await heatmapPng(e)
          : await overlayPng(await ctx.decoder.display(bytes, opts.overlayMaxSide, signal), e, alpha);
      timing.render = performance.now() - t1;
      timing.total = performance.now() - t0;
      reply.type('image/png').header('x-label', e.label).header('x-probability', String(e.probability));
      if (k === 2) reply.header('x-threshold', String(e.threshold));
      return reply
        .header('x-model', modelFile.id)
        .header('x-batch-size', String(r.batchSize))
        .header('server-timing', serverTiming(timing))
        .send(png);
    });
  });
}
