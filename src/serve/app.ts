import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ServerContext } from './context.js';
import { ApiError, oneLine, toApiError } from './errors.js';
import { registerApi } from './routes.js';
import { registerV2 } from './v2-protocol.js';

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

/** This package's version, from the package.json above this module. */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const path = join(dir, 'package.json');
    if (existsSync(path)) return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

export function ortWebRoot(): string {
  return dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
}

const CLASSIFY_JS = fileURLToPath(new URL('../classify/classify.js', import.meta.url));

/** The files of bundleRoot() the pages load: the bundles and the train worker's augmentation kernel. */
export function isBundleFile(name: string): boolean {
  return /^([a-z0-9-]+\.js|augment-kernel\.wasm)$/i.test(name);
}

/** The browser bundle of the engine and the Train view's worker, written by `npm run build` (scripts/bundle-web.ts). */
export function bundleRoot(): string {
  return fileURLToPath(new URL('../../web/lib/', import.meta.url));
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

/** The API's error body, for answers written before fastify has a request (see clientErrorHandler). */
function rawErrorResponse(status: number, code: string, message: string): string {
  const body = JSON.stringify({ error: { code, message } });
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nconnection: close\r\n` +
    `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

export async function buildApp(ctx: ServerContext): Promise<FastifyInstance> {
  const { opts, log } = ctx;
  const app = Fastify({
    logger: false,
    bodyLimit: opts.bodyLimit,
    // Errors of the HTTP parser and Node's header timeout, before any request exists: in the API's shape.
    clientErrorHandler(err: NodeJS.ErrnoException, socket) {
      const [status, code, message] =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'request_timeout', 'the request took too long to arrive']
          : err.code === 'HPE_HEADER_OVERFLOW'
            ? [431, 'headers_too_large', 'the request headers are too large']
            : [400, 'bad_request', 'the request is not valid HTTP'];
      if (socket.writable) socket.end(rawErrorResponse(status, code, message));
      else socket.destroy();
    },
    // A URL fastify cannot route, such as a bad percent-encoding.
    frameworkErrors(err, req, reply) {
      send(reply, req, new ApiError(400, 'bad_request', `the URL is not valid (${oneLine(err.message)})`));
    },
  });

  // Exact API paths and their methods, so a known path with the wrong method gets 405, not 404.
  const methods = new Map<string, Set<string>>();
  app.addHook('onRoute', (r) => {
    if (r.url.includes('*') || r.url.includes(':')) return;
    const set = methods.get(r.url) ?? new Set<string>();
    for (const m of [r.method].flat()) set.add(m);
    methods.set(r.url, set);
  });

  function send(reply: FastifyReply, req: FastifyRequest, e: ApiError) {
    log(`${new Date().toISOString()} ${e.status} ${req.method} ${req.url} ${e.code}: ${e.message}`);
    // The v2 protocol's error object is a message alone.
    const body = req.url.startsWith('/v2')
      ? { error: e.message }
      : { error: { code: e.code, message: e.message } };
    return reply.code(e.status).headers(e.headers).type('application/json; charset=utf-8').send(body);
  }

  // DNS rebinding: a page of another origin whose name resolves to this machine reaches the server
  // with its own Host name. Only IP addresses, loopback names and the names allowed are answered.
  const allowed = new Set(['localhost', ...opts.allowedHosts.map((h) => h.toLowerCase())]);
  if (isIP(opts.host) === 0 && opts.host !== '0.0.0.0') allowed.add(opts.host.toLowerCase());
  // Headers must arrive within the request timeout (Node checks that), and the body too (checked here:
  // Node's own request timeout does not watch a body that a handler is reading). A client that sends
  // too slowly gets 408 and is disconnected, so a slow sender cannot hold a connection for long.
  app.server.headersTimeout = opts.requestTimeoutMs;
  const bodyTimers = new WeakMap<FastifyRequest, NodeJS.Timeout>();
  app.addHook('onRequest', async (req, reply) => {
    const timer = setTimeout(() => {
      if (req.raw.complete || reply.raw.headersSent) return;
      log(`${new Date().toISOString()} 408 ${req.method} ${req.url} request_timeout`);
      req.raw.socket.end(rawErrorResponse(408, 'request_timeout', 'the request took too long to arrive'));
    }, opts.requestTimeoutMs);
    bodyTimers.set(req, timer);
    req.raw.once('end', () => clearTimeout(timer)).once('close', () => clearTimeout(timer));
  });
  app.addHook('onResponse', async (req) => clearTimeout(bodyTimers.get(req)));

  app.addHook('onRequest', async (req, reply) => {
    const name = hostName(req.headers.host ?? '');
    if (isIP(name) !== 0 || allowed.has(name) || name.endsWith('.localhost')) return;
    return send(
      reply,
      req,
      new ApiError(
        403,
        'host_not_allowed',
        `this server does not answer for the host name '${name}'; start it with --allowed-hosts ${name || '<name>'} to allow it`,
      ),
    );
  });
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
  app.addContentTypeParser(/^image\/[a-z0-9.+-]+\s*(;.*)?$/i, { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  );
  // JSON for the v2 protocol's tensors, within the same body limit.
  app.addContentTypeParser(/^application\/json\s*(;.*)?$/i, { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (e) {
      done(
        new ApiError(400, 'bad_json', `the body is not valid JSON (${oneLine((e as Error).message)})`),
        undefined,
      );
    }
  });
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

  await app.register(fastifyStatic, {
    root: bundleRoot(),
    prefix: '/lib/',
    decorateReply: false,
    index: false,
    allowedPath: (path) => isBundleFile(path.slice(1)) || /^\/[a-z0-9-]+\.js\.map$/i.test(path),
  });

  app.get('/train', (_req, reply) => reply.redirect('/train.html'));

  // The classifier convention the page imports, as compiled (it has no imports of its own).
  app.get('/lib/classify.js', (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').send(createReadStream(CLASSIFY_JS)),
  );

  registerApi(app, ctx);
  registerV2(app, ctx);
  return app;
}

/** The name of a Host header, lower-cased, without its port or an IPv6 address's brackets. */
function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  return h.replace(/:\d*$/, '');
}
