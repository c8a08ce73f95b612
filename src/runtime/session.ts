import ort from 'onnxruntime-node';
import type { Graph } from '../graph/ir.js';
import { toOnnxBytes } from '../graph/onnx-export.js';
import type { Tensor } from '../graph/tensor.js';

export interface SessionOptions {
  /** Intra-op threads; defaults to ORT's choice (all cores). */
  threads?: number;
  /** ORT graph optimisation level. */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Write an ORT profile JSON with this prefix. */
  profilePrefix?: string;
  /**
   * ORT's CPU memory arena (default on). It keeps the largest memory each input shape needed and grows
   * with every new batch size, so a server fed batches of varying size turns it off for a flat RSS.
   */
  memArena?: boolean;
  /**
   * ORT's memory pattern (default on): one block per input shape, planned from the first run. Off, the
   * arena serves each tensor and reuses freed ones, so a graph run at two batch sizes (a training epoch's
   * last, partial batch) does not keep two plans' memory.
   */
  memPattern?: boolean;
  /**
   * ORT's intra-op threads stop spinning for work when a run ends (default: they go on spinning for a
   * while). A training run sets it: after each step they spun on both cores while the next batch was
   * augmented and the validation ran. MobileNetV2 seed-recipe epochs (bench/train-epoch.ts, one worker,
   * 2 rounds): 6.46 and 6.10 s spinning, 5.49 and 5.61 s stopped at the end of each run, 5.95 and
   * 5.84 s with spinning off altogether, which slows the step itself by 4–7%. Inference sessions keep
   * spinning: it answers one-image calls sooner (README, "Server and web page").
   */
  stopSpinning?: boolean;
}

/** A compiled graph: feed named host tensors, get named host tensors back. */
export class Session {
  private constructor(
    private readonly inner: ort.InferenceSession,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    private readonly profilePrefix?: string,
  ) {}

  static async create(model: Graph | Uint8Array, opts: SessionOptions = {}): Promise<Session> {
    const bytes = model instanceof Uint8Array ? model : toOnnxBytes(model);
    const inner = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: opts.optimization ?? 'all',
      executionMode: 'sequential',
      interOpNumThreads: 1,
      ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
      ...(opts.memArena === false ? { enableCpuMemArena: false } : {}),
      ...(opts.memPattern === false ? { enableMemPattern: false } : {}),
      ...(opts.stopSpinning ? { extra: { session: { force_spinning_stop: '1' } } } : {}),
      ...(opts.profilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix } : {}),
    });
    return new Session(inner, inner.inputNames, inner.outputNames, opts.profilePrefix);
  }

  async run(feeds: Record<string, Tensor>, fetch?: readonly string[]): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds))
      ortFeeds[k] = new ort.Tensor(t.dtype as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.shape);
    const res = fetch ? await this.inner.run(ortFeeds, fetch as string[]) : await this.inner.run(ortFeeds);
    const out: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(res))
      out[k] = { dtype: v.type as Tensor['dtype'], shape: [...v.dims], data: v.data as Tensor['data'] };
    return out;
  }

  /** Ends profiling; ORT writes the profile as `<profilePrefix>_<timestamp>.json` (see latestProfile). */
  endProfiling(): void {
    if (!this.profilePrefix) throw new Error('session: profiling was not enabled (set profilePrefix)');
    this.inner.endProfiling();
  }

  async release(): Promise<void> {
    await this.inner.release();
  }
}
