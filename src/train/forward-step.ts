import type { ValueInfo } from '../graph/ir.js';
import { splitPrefix } from '../graph/split-prefix.js';
import type { Tensor } from '../graph/tensor.js';
import type { LoraModel } from '../lora/lora-model.js';
import { probeValues } from '../runtime/probe-shapes.js';
import { Session } from '../runtime/session.js';

/** What the frozen start of the network makes of a batch: the values the adapted rest reads. */
export type FrozenFeeds = Record<string, Tensor>;

/**
 * The adapted model's forward pass with trainables fed per call, for validation while they change. It
 * runs as two sessions: the frozen start of the network (everything before the first adapted layer),
 * whose outputs for an image never change, and the rest, which reads the trainables. Validation keeps
 * the first part's outputs for its images and runs only the rest each epoch (FrozenValidation).
 */
export class ForwardStep {
  private constructor(
    private readonly model: LoraModel,
    private readonly frozenPart: Session | undefined,
    private readonly adaptedPart: Session,
  ) {}

  static async compile(model: LoraModel, opts: { threads?: number } = {}): Promise<ForwardStep> {
    const split = splitPrefix(model.graph, new Set(model.params.keys()), await boundaryTypes(model));
    // No arena: validation runs between epochs, and an arena would hold its activations (~380 MiB at
    // batch 32) through every training step for no measurable speed.
    const session = (g: typeof model.graph) => Session.create(g, { threads: opts.threads, memArena: false });
    return split
      ? new ForwardStep(model, await session(split.prefix), await session(split.suffix))
      : new ForwardStep(model, undefined, await session(model.graph));
  }

  /** The frozen part's outputs for a batch [N,3,H,W] (the batch itself when nothing is frozen). */
  async frozen(input: Tensor<'float32'>): Promise<FrozenFeeds> {
    return this.frozenPart ? this.frozenPart.run({ input }) : { input };
  }

  /** Logits [N, classes] from the frozen part's outputs, with the trainables as they are now. */
  async fromFrozen(feeds: FrozenFeeds): Promise<Float32Array> {
    const all: Record<string, Tensor> = { ...feeds };
    for (const [name, t] of this.model.params) all[name] = t;
    return (await this.adaptedPart.run(all)).logits.data as Float32Array;
  }

  /** Logits [N, classes] for a batch [N,3,H,W]. */
  async run(input: Tensor<'float32'>): Promise<Float32Array> {
    return this.fromFrozen(await this.frozen(input));
  }

  async release(): Promise<void> {
    await this.frozenPart?.release();
    await this.adaptedPart.release();
  }
}

/**
 * A value's type between the two parts: its element type and rank, read off a run at the backbone's
 * input size, with every dimension left to the runtime (the model takes any size its layers allow).
 */
async function boundaryTypes(model: LoraModel): Promise<(name: string) => ValueInfo> {
  const g = model.graph.clone();
  const [h, w] = model.backbone.preprocess.size;
  g.inputs = g.inputs.map((i) => (i.name === 'input' ? { ...i, shape: ['N', 3, h, w] } : i));
  const probed = await probeValues(g);
  return (name) => {
    const v = probed.get(name)!;
    return { name, dtype: v.dtype, shape: v.shape.map((_, axis) => `${name}:${axis}`) };
  };
}
