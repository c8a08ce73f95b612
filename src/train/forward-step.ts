import type { Graph, ValueInfo } from '../graph/ir.js';
import { toOnnxBytes } from '../graph/onnx-export.js';
import { splitPrefix } from '../graph/split-prefix.js';
import type { Tensor } from '../graph/tensor.js';
import type { LoraModel } from '../lora/lora-model.js';
import { Session, type SessionOptions } from '../runtime/session.js';

/** What the frozen start of the network makes of a batch: the values the adapted rest reads. */
export type FrozenFeeds = Record<string, Tensor>;

/**
 * The adapted model's forward pass with trainables fed per call, for validation while they change. It
 * runs as two sessions: the frozen start of the network (everything before the first adapted layer),
 * whose outputs for an image never change, and the rest, which reads the trainables. Validation keeps
 * the first part's outputs for its images and runs only the rest each epoch (FrozenValidation).
 */
export class ForwardStep {
  private adaptedPart: Promise<Session> | undefined;

  private constructor(
    private readonly model: LoraModel,
    private readonly options: SessionOptions,
    private readonly frozenPart: Session | undefined,
    /** The adapted part's graph, given the types of the frozen part's outputs. */
    private readonly adaptedGraph: (types: readonly ValueInfo[]) => Graph,
  ) {}

  static async compile(model: LoraModel, opts: { threads?: number } = {}): Promise<ForwardStep> {
    // No arena: validation runs between epochs, and an arena would hold its activations (~380 MiB at
    // batch 32) through every training step for no measurable speed. Its threads stop spinning
    // after each run, as the train step's.
    const options: SessionOptions = { threads: opts.threads, memArena: false, stopSpinning: true };
    const split = splitPrefix(model.graph, new Set(model.params.keys()));
    if (!split) return new ForwardStep(model, options, undefined, () => model.graph);
    const prefix = toOnnxBytes(split.prefix, { untypedOutputs: split.boundary });
    return new ForwardStep(model, options, await Session.create(prefix, options), split.suffix);
  }

  /** The frozen part's outputs for a batch [N,3,H,W] (the batch itself when nothing is frozen). */
  async frozen(input: Tensor<'float32'>): Promise<FrozenFeeds> {
    return this.frozenPart ? this.frozenPart.run({ input }) : { input };
  }

  /** Logits [N, classes] from the frozen part's outputs, with the trainables as they are now. */
  async fromFrozen(feeds: FrozenFeeds): Promise<Float32Array> {
    // Compiled on first use, when the frozen outputs' element types and ranks are known; every
    // dimension is left to the runtime, since the model takes any size its layers allow.
    this.adaptedPart ??= Session.create(
      this.adaptedGraph(
        Object.entries(feeds).map(([name, t]) => ({
          name,
          dtype: t.dtype,
          shape: t.shape.map((_, axis) => `${name}:${axis}`),
        })),
      ),
      this.options,
    );
    const all: Record<string, Tensor> = { ...feeds };
    for (const [name, t] of this.model.params) all[name] = t;
    return (await (await this.adaptedPart).run(all)).logits.data as Float32Array;
  }

  /** Logits [N, classes] for a batch [N,3,H,W]. */
  async run(input: Tensor<'float32'>): Promise<Float32Array> {
    return this.fromFrozen(await this.frozen(input));
  }

  async release(): Promise<void> {
    await this.frozenPart?.release();
    await (await this.adaptedPart)?.release();
  }
}
