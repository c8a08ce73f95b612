import type { Tensor } from '../graph/tensor.js';
import type { LoraModel } from '../lora/lora-model.js';
import { Session } from '../runtime/session.js';

/** The adapted model's forward pass with trainables fed per call, for validation while they change. */
export class ForwardStep {
  private constructor(
    private readonly model: LoraModel,
    private readonly session: Session,
  ) {}

  static async compile(model: LoraModel, opts: { threads?: number } = {}): Promise<ForwardStep> {
    // No arena: validation runs between epochs, and an arena would hold its activations (~380 MiB at
    // batch 32) through every training step for no measurable speed.
    return new ForwardStep(
      model,
      await Session.create(model.graph, { threads: opts.threads, memArena: false }),
    );
  }

  /** Logits [N, classes] for a batch [N,3,H,W]. */
  async run(input: Tensor<'float32'>): Promise<Float32Array> {
    const feeds: Record<string, Tensor> = { input };
    for (const [name, t] of this.model.params) feeds[name] = t;
    return (await this.session.run(feeds)).logits.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
