import { appendBackward } from '../autodiff/backward.js';
import {
  appendCrossEntropy,
  crossEntropyCoefficients,
  mixedCoefficients,
} from '../autodiff/cross-entropy.js';
import { toOnnxBytes } from '../graph/onnx-export.js';
import type { Tensor } from '../graph/tensor.js';
import { HEAD_NODE, HEAD_WEIGHT } from '../lora/head.js';
import type { LoraModel } from '../lora/lora-model.js';
import type { Rng } from '../random/rng.js';
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
  /**
   * Dropout on the head's input features with this probability (inverted: kept ones are scaled by
   * 1/(1-p), so inference, which has no dropout, sees the same expected features).
   */
  headDropout?: number;
}

export interface StepResult {
  loss: number;
  logits: Float32Array;
  /** The values asked for with `expose`, by name. */
  exposed?: Record<string, Tensor>;
}

const COEFFS = 'ce_coeffs';
const DROPOUT_MASK = 'head_dropout_mask';

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
    if (opts.headDropout) {
      const fc = g.node(HEAD_NODE);
      g.inputs.push({ name: DROPOUT_MASK, dtype: 'float32', shape: ['N', headFeatures(model)] });
      fc.inputs[0] = g.op('Mul', [fc.inputs[0], DROPOUT_MASK]);
      g.sort();
    }
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
   * i is `mix.lambda` of label i and the rest of label `mix.partner[i]`; fills each param's `grad`. With
   * head dropout, `dropout` draws the batch's mask.
   */
  async run(
    input: Tensor<'float32'>,
    labels: ArrayLike<number>,
    o: { mix?: { partner: ArrayLike<number>; lambda: number }; dropout?: Rng } = {},
  ): Promise<StepResult> {
    const { mix } = o;
    const ce = { weights: this.opts.classWeights, labelSmoothing: this.opts.labelSmoothing };
    const k = this.model.numClasses;
    const partnerLabels = mix && Array.from(mix.partner, (j) => labels[j]);
    const feeds: Record<string, Tensor> = {
      input,
      [COEFFS]: mix
        ? mixedCoefficients(labels, partnerLabels!, mix.lambda, k, ce)
        : crossEntropyCoefficients(labels, k, ce),
    };
    const p = this.opts.headDropout;
    if (p) {
      if (!o.dropout)
        throw new Error("TrainStep: head dropout needs a generator for its mask (run's dropout)");
      feeds[DROPOUT_MASK] = dropoutMask(o.dropout, [input.shape[0], headFeatures(this.model)], p);
    }
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

const headFeatures = (model: LoraModel): number => model.params.get(HEAD_WEIGHT)!.shape[1];

/** Each entry 0 with probability p, else 1/(1-p): torch's nn.Dropout in training mode. */
export function dropoutMask(rng: Rng, shape: [number, number], p: number): Tensor<'float32'> {
  const data = new Float32Array(shape[0] * shape[1]);
  const keep = 1 / (1 - p);
  for (let i = 0; i < data.length; i++) data[i] = rng.next() < p ? 0 : keep;
  return { dtype: 'float32', shape, data };
}
