import { appendBackward } from '../autodiff/backward.js';
import {
  appendCrossEntropy,
  crossEntropyCoefficients,
  mixedCoefficients,
} from '../autodiff/cross-entropy.js';
import { toOnnxBytes } from '../graph/onnx-export.js';
import type { Tensor } from '../graph/tensor.js';
import type { LoraModel } from '../lora/lora-model.js';
import { probeShapes } from '../runtime/probe-shapes.js';
import { Session } from '../runtime/session.js';
import type { Param } from './optim/optimizer.js';

export interface TrainStepOptions {
  /** ORT intra-op threads (default: all cores). */
  threads?: number;
  labelSmoothing?: number;
  /** Per-class loss weights, as nn.CrossEntropyLoss(weight=...). */
  classWeights?: number[];
  /** Write an ORT profile with this prefix. */
  profilePrefix?: string;
  /** Input [height, width] the graph is compiled for (default: the backbone's preprocessing size). */
  imageSize?: [number, number];
  /** Values of the graph to return from each run as well (`StepResult.exposed`), e.g. to compare engines. */
  expose?: string[];
}

export interface StepResult {
  loss: number;
  logits: Float32Array;
  /** The values asked for with `expose`, by name. */
  exposed?: Record<string, Tensor>;
}

const COEFFS = 'ce_coeffs';

/**
 * One compiled training step: forward, cross-entropy and backward as a single ONNX graph whose inputs are
 * the batch and the current trainables and whose outputs are the loss, the logits and every gradient.
 */
export class TrainStep {
  /** The trainables as optimizer params: `value` is the model's own array, `grad` is filled by `run`. */
  readonly params: Param[];

  private constructor(
    private readonly model: LoraModel,
    private readonly session: Session,
    private readonly gradNames: Map<string, string>,
    private readonly lossName: string,
    private readonly opts: TrainStepOptions,
  ) {
    this.params = [...model.params].map(([name, t]) => ({
      name,
      value: t.data,
      grad: new Float32Array(t.data.length),
    }));
  }

  static async compile(model: LoraModel, opts: TrainStepOptions = {}): Promise<TrainStep> {
    const g = model.graph.clone();
    const [h, w] = opts.imageSize ?? model.backbone.preprocess.size;
    g.inputs = g.inputs.map((i) => (i.name === 'input' ? { ...i, shape: ['N', 3, h, w] } : i));
    g.inputs.push({ name: COEFFS, dtype: 'float32', shape: ['N', model.numClasses] });
    const loss = appendCrossEntropy(g, 'logits', COEFFS);
    g.outputs = [
      { name: loss, dtype: 'float32', shape: [] },
      { name: 'logits', dtype: 'float32', shape: ['N', model.numClasses] },
    ];
    const wrt = [...model.params.keys()];
    const grads = appendBackward(g, { loss, wrt, shapes: await probeShapes(g) });
    for (const w of wrt)
      g.outputs.push({ name: grads.get(w)!, dtype: 'float32', shape: [...model.params.get(w)!.shape] });
    const onnx = opts.expose ? toOnnxBytes(g, { untypedOutputs: opts.expose }) : g;
    // No memory pattern: the arena reuses freed tensors instead, and a step peaks 160-250 MiB lower at
    // the same speed (MobileNetV2 and ResNet34 at batch 32; README, "A training epoch").
    const session = await Session.create(onnx, {
      threads: opts.threads,
      profilePrefix: opts.profilePrefix,
      memPattern: false,
      stopSpinning: true,
    });
    return new TrainStep(model, session, grads, loss, opts);
  }

  /**
   * Runs forward and backward on a batch [N,3,H,W] with integer labels, or on a mixed batch whose image
   * i is `mix.lambda` of label i and the rest of label `mix.partner[i]`; fills each param's `grad`.
   */
  async run(
    input: Tensor<'float32'>,
    labels: ArrayLike<number>,
    mix?: { partner: ArrayLike<number>; lambda: number },
  ): Promise<StepResult> {
    const ce = { weights: this.opts.classWeights, labelSmoothing: this.opts.labelSmoothing };
    const k = this.model.numClasses;
    const partnerLabels = mix && Array.from(mix.partner, (j) => labels[j]);
    const feeds: Record<string, Tensor> = {
      input,
      [COEFFS]: mix
        ? mixedCoefficients(labels, partnerLabels!, mix.lambda, k, ce)
        : crossEntropyCoefficients(labels, k, ce),
    };
    for (const [name, t] of this.model.params) feeds[name] = t;
    const out = await this.session.run(feeds);
    for (const p of this.params) p.grad.set(out[this.gradNames.get(p.name)!].data as Float32Array);
    const exposed = this.opts.expose && Object.fromEntries(this.opts.expose.map((n) => [n, out[n]]));
    return {
      loss: (out[this.lossName].data as Float32Array)[0],
      logits: out.logits.data as Float32Array,
      ...(exposed ? { exposed } : {}),
    };
  }

  /** Ends profiling (see runtime/profile-file's latestProfile for the file). */
  endProfiling(): void {
    this.session.endProfiling();
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
