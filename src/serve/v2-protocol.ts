import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MODEL_VERSION } from '../export/triton.js';
import type { ServerContext } from './context.js';
import { withDeadline } from './deadline.js';
import { ApiError } from './errors.js';

/*
 * The KServe v2 / Open Inference Protocol over HTTP (the REST half), as NVIDIA Triton and KServe speak
 * it, so a client written for them works here unchanged: health, server and model metadata, and
 * inference with JSON tensors. Images sent here go through the same batch queue, limits and time
 * limit as /v1/predict. Errors are the protocol's `{ "error": "message" }` (see app.ts).
 */

/** The version the model is served as: the one a Triton repository exported from the run holds. */
const V2_MODEL_VERSION = MODEL_VERSION;
const OUTPUTS = ['logits', 'probabilities'] as const;

interface TensorInput {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

/** Nested or flat JSON tensor data in row-major order as one flat list of finite numbers. */
function flatNumbers(data: unknown, where: string): number[] {
  const out: number[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else if (typeof v === 'number' && Number.isFinite(v)) out.push(v);
    else
      throw new ApiError(
        400,
        'bad_tensor',
        `${where}: the data holds ${JSON.stringify(v)}, not a finite number`,
      );
  };
  walk(data);
  return out;
}

function inferRequest(body: unknown, size: [number, number]) {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ApiError(400, 'bad_request', 'the body is not an inference request JSON object');
  const { id, inputs, outputs } = body as { id?: unknown; inputs?: unknown; outputs?: unknown };
  if (id !== undefined && typeof id !== 'string')
    throw new ApiError(400, 'bad_request', "'id' must be a string");
  if (!Array.isArray(inputs) || inputs.length !== 1)
    throw new ApiError(400, 'bad_request', "'inputs' must be a list of one tensor, named 'input'");
  const input = inputs[0] as Partial<TensorInput>;
  const [h, w] = size;
  if (input.name !== 'input')
    throw new ApiError(400, 'bad_tensor', `unknown input '${input.name}'; the model's input is 'input'`);
  if (input.datatype !== 'FP32')
    throw new ApiError(400, 'bad_tensor', `input 'input' is FP32, not ${JSON.stringify(input.datatype)}`);
  const shape = input.shape;
  const n = Array.isArray(shape) ? shape[0] : undefined;
  if (
    !Array.isArray(shape) ||
    shape.length !== 4 ||
    !Number.isInteger(n) ||
    (n as number) < 1 ||
    shape[1] !== 3 ||
    shape[2] !== h ||
    shape[3] !== w
  )
    throw new ApiError(
      400,
      'bad_tensor',
      `input 'input' must have shape [N, 3, ${h}, ${w}], got ${JSON.stringify(shape)}`,
    );
  const data = flatNumbers(input.data, "input 'input'");
  const per = 3 * h * w;
  if (data.length !== (n as number) * per)
    throw new ApiError(
      400,
      'bad_tensor',
      `input 'input' of shape [${shape}] needs ${(n as number) * per} values, got ${data.length}`,
    );
  let wanted: readonly string[] = OUTPUTS;
  if (outputs !== undefined) {
    if (!Array.isArray(outputs)) throw new ApiError(400, 'bad_request', "'outputs' must be a list");
    wanted = outputs.map((o) => (o as { name?: unknown }).name as string);
    const unknown = wanted.find((name) => !(OUTPUTS as readonly string[]).includes(name));
    if (unknown !== undefined)
      throw new ApiError(
        400,
        'bad_request',
        `unknown output '${unknown}'; the model gives ${OUTPUTS.join(' and ')}`,
      );
  }
  const images = Array.from({ length: n as number }, (_, i) =>
    Float32Array.from(data.slice(i * per, (i + 1) * per)),
  );
  return { id, images, wanted };
}

export function registerV2(app: FastifyInstance, ctx: ServerContext): void {
  const { model, opts } = ctx;
  const [h, w] = model.preprocess.size;
  const k = model.classes.length;
  const name = ctx.modelName;
  const tensor = (n: string, shape: number[]) => ({ name: n, datatype: 'FP32', shape });
  type Params = { name: string; version?: string };
  /** The named model, in the requested version if any; otherwise 404 in the protocol's words. */
  const check = (req: FastifyRequest<{ Params: Params }>) => {
    const { name: asked, version } = req.params;
    if (asked !== name || (version !== undefined && version !== V2_MODEL_VERSION))
      throw new ApiError(
        404,
        'unknown_model',
        `no model '${asked}'${version === undefined ? '' : ` version ${version}`}; this server serves '${name}' version ${V2_MODEL_VERSION}`,
      );
  };
  const metadata = () => ({
    name,
    versions: [V2_MODEL_VERSION],
    platform: 'onnxruntime_onnx',
    inputs: [tensor('input', [-1, 3, h, w])],
    outputs: [tensor('logits', [-1, k]), tensor('probabilities', [-1, k])],
  });

  app.get('/v2', async () => ({ name: 'smoker-lora', version: ctx.version, extensions: [] }));
  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async () => ({ ready: true }));
  for (const base of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get(base, async (req: FastifyRequest<{ Params: Params }>) => (check(req), metadata()));
    app.get(
      `${base}/ready`,
      async (req: FastifyRequest<{ Params: Params }>) => (check(req), { name, ready: true }),
    );
    app.post(`${base}/infer`, async (req: FastifyRequest<{ Params: Params }>, reply) => {
      check(req);
      const { id, images, wanted } = inferRequest(req.body, [h, w]);
      const results = await withDeadline(reply, opts.timeoutMs, (signal) =>
        Promise.all(images.map((x) => ctx.predictQueue.push(x, signal))),
      );
      const n = images.length;
      const pick = (out: (typeof OUTPUTS)[number]) => ({
        ...tensor(out, [n, k]),
        data: results.flatMap((r) => Array.from(r.value[out])),
      });
      return {
        model_name: name,
        model_version: req.params.version ?? V2_MODEL_VERSION,
        ...(id === undefined ? {} : { id }),
        outputs: wanted.map((o) => pick(o as (typeof OUTPUTS)[number])),
      };
    });
  }
}
