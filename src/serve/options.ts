import { z } from 'zod';
import { MAX_INPUT_PIXELS } from '../data/image-error.js';
import { describeIssue, valueAt } from '../run/describe-issue.js';
import { PRECISIONS } from '../run/files.js';

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/**
 * How `smoker-lora serve` runs: its run folder, address, batching and request limits. The schema is
 * the one definition of each setting's range, checked before the server starts (a timer past 2^31 ms
 * would fire at once, say), with the flag named in the error.
 */
export const serveOptionsSchema = z.object({
  /** A run folder written by 'smoker-lora train' (config.json + model.onnx). */
  model: z.string().min(1),
  /** The ONNX backbone the page's Train view fine-tunes (GET /v1/backbone.onnx); default: the run's, if a file. */
  backbone: z.string().min(1).optional(),
  host: z.string().min(1),
  /**
   * Which of the run's model files answers predictions and /v1/model.onnx (the page's in-browser mode):
   * model.onnx, or the model_fp16.onnx / model_int8.onnx that `smoker-lora export` wrote. Grad-CAM always
   * runs the float32 model, whose gradients it needs.
   */
  precision: z.enum(PRECISIONS),
  /** 0 picks a free port. */
  port: int(0, 65535),
  /** The model's name in the KServe v2 endpoints; default: the run folder's name. */
  modelName: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, _, . or -')
    .optional(),
  /** Host header names answered besides loopback names and IP addresses (DNS-rebinding guard). */
  allowedHosts: z.array(z.string().min(1)).optional(),
  /** Most images per model call. */
  maxBatch: int(1, 1024),
  /** How long an idle queue waits for more requests before running a batch. */
  batchWindowMs: z.number().min(0).max(10_000),
  /** Largest accepted upload, in bytes. */
  bodyLimit: int(1, 1024 ** 3),
  /** Largest accepted image, in pixels (width x height), checked before decoding. */
  maxPixels: int(1, MAX_INPUT_PIXELS),
  /** Per-request limit on queueing, decoding and inference after the upload arrived. */
  timeoutMs: int(1, 3_600_000),
  /** A client that takes longer to send its whole request gets 408 and is disconnected (slowloris). */
  requestTimeoutMs: int(1000, 600_000).optional(),
  /** ONNX Runtime intra-op threads per session (default: ORT's choice, all cores). */
  threads: int(1, 256).optional(),
  /** Images waiting for the model at most; more get 503 at once. */
  maxPending: int(1, 100_000).optional(),
  /** Grad-CAM overlays are drawn on the image scaled to at most this many pixels on its long side. */
  overlayMaxSide: int(16, 8192).optional(),
});

export type ServeOptions = z.infer<typeof serveOptionsSchema> & {
  /** One line per error and the start-up lines (default: stderr). */
  log?: (line: string) => void;
};

/** The server's default settings, shared by `smoker-lora serve` and anyone starting it from code. */
export const SERVE_DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  precision: 'fp32',
  maxBatch: 32,
  batchWindowMs: 5,
  bodyLimit: 10 * 1024 * 1024,
  maxPixels: 24_000_000,
  timeoutMs: 10_000,
} satisfies Omit<ServeOptions, 'model'>;

/** The options, checked: a value out of range is a one-line error naming its flag. */
export function checkServeOptions(o: ServeOptions): ServeOptions {
  const { log, ...rest } = o;
  const parsed = serveOptionsSchema.safeParse(rest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const flag = `--${String(issue.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new Error(`${flag}: ${describeIssue(issue, valueAt(rest, issue.path))}`);
  }
  return { ...parsed.data, log };
}
