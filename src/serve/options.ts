/** How `smoker-lora serve` runs: its run folder, address, batching and request limits. */
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
