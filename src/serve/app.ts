import { createReadStream, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ServerContext } from './context.js';
import { ApiError, toApiError } from './errors.js';
import { registerApi } from './routes.js';

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

const CLASSIFY_JS = fileURLToPath(new URL('../classify/classify.js', import.meta.url));

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

  const send = (reply: FastifyReply, req: FastifyRequest, e: ApiError) => {
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

  // The classifier convention the page imports, as compiled (it has no imports of its own).
  app.get('/lib/classify.js', (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').send(createReadStream(CLASSIFY_JS)),
  );

  registerApi(app, ctx);
  return app;
}
