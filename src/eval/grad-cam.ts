import {
  decide,
  mirrorInto,
  positiveProbabilities,
  probabilities,
  viewCount,
  withViews,
} from '../classify/classify.js';
import { packBatch } from '../data/pack-batch.js';
import { upsampleBilinear } from '../data/resample.js';
import { fromOnnxBytes } from '../graph/onnx-import.js';
import type { Tensor } from '../graph/tensor.js';
import type { Preprocess } from '../models/backbone.js';
import { Session } from '../runtime/session.js';
import { camFromGradients } from './cam.js';
import { buildGradCamGraph, CAM_TARGET } from './cam-graph.js';

/**
 * Why an image got its label: the Grad-CAM map at the model input size of the positive class, or with
 * more than two classes of the class said.
 */
export interface Explanation {
  /** The decided class (see classify), the same as predict gives. */
  label: string;
  /** Probability of the positive (last) class, or with more than two classes of `label`, as predict gives it. */
  probability: number;
  threshold: number;
  /** [h*w] row-major in [0,1] at the model input size; all zeros when nothing speaks for the explained class. */
  heatmap: Float32Array;
  /** [h, w] */
  size: [number, number];
}

/** What the Grad-CAM graph computes for a batch: the positive logit's gradient at the target layer. */
export interface GradCamRaw {
  /** [N, classes] */
  logits: Tensor<'float32'>;
  /** The target layer's activation A, [N, C, h, w]. */
  activation: Tensor<'float32'>;
  /** d(explained logit)/dA per sample, [N, C, h, w]. */
  gradient: Tensor<'float32'>;
}

/** A run's merged model and how it decides: what Grad-CAM needs of a run folder. */
export interface CamModel {
  /** model.onnx's bytes, and its path for errors. */
  bytes: Uint8Array;
  where: string;
  preprocess: Preprocess;
  classes: string[];
  threshold: number;
  /** Test-time flip: the label and probability average the image and its mirror, as predict does. */
  tta: boolean;
}

export interface GradCamOptions {
  threads?: number;
  /**
   * The activation to explain; default: the 4-D input of the GlobalAveragePool that produces `features`
   * (ResNet: layer4's output; MobileNetV2: MobilenetV2/Conv_1/relu6).
   */
  layer?: string;
  /** ORT's memory arena; a long-running server turns it off so memory stays flat across batch sizes. */
  memArena?: boolean;
}

/**
 * Grad-CAM (Selvaraju et al. 2017) for a trained run: one ONNX session computes the logits, the last
 * conv block's activation A and d(positive logit)/dA for a whole batch; the channel weighting, ReLU,
 * normalisation and upsampling happen here (a few C·h·w multiply-adds per image). Labels and
 * probabilities follow the classifier convention, test-time flip included, so an image gets the same
 * answer here as from predict; with flip, the map is the mean of the image's map and its mirror's map
 * mirrored back.
 *
 * With a global average pool straight into a linear head (every backbone here), dlogit/dA is the head's
 * weight row over h·w at every position, so Grad-CAM coincides with CAM (Zhou et al. 2016); the map
 * explains the positive class's logit (with more than two classes, the said class's), not the softmax
 * probability. Nothing here reads files or
 * imports Node, so the browser's worker explains with it too; explainImage reads an image file.
 */
export class GradCam {
  private constructor(
    private readonly session: Session,
    private readonly model: Omit<CamModel, 'bytes'>,
    /** The explained activation and its gradient, as named in the graph. */
    readonly layer: string,
    private readonly gradientName: string,
  ) {}

  static async create(model: CamModel, opts: GradCamOptions = {}): Promise<GradCam> {
    const g = fromOnnxBytes(model.bytes, model.where);
    const { activation, gradient } = await buildGradCamGraph(g, {
      size: model.preprocess.size,
      layer: opts.layer,
      where: model.where,
    });
    const session = await Session.create(g, { threads: opts.threads, memArena: opts.memArena });
    const { bytes: _bytes, ...rest } = model;
    return new GradCam(session, rest, activation, gradient);
  }

  get classes(): string[] {
    return this.model.classes;
  }

  /** How the model's input is made from a photo. */
  get preprocess(): Preprocess {
    return this.model.preprocess;
  }

  /** [h, w] the model reads. */
  get size(): [number, number] {
    return this.model.preprocess.size;
  }

  /**
   * Logits, A and dlogit/dA for a normalised batch [N,3,H,W], the logit of class `targets[i]` for
   * sample i (default: the positive, last, class for every sample).
   */
  async run(input: Tensor<'float32'>, targets?: ArrayLike<number>): Promise<GradCamRaw> {
    const [h, w] = this.size;
    if (input.shape.length !== 4 || input.shape[1] !== 3 || input.shape[2] !== h || input.shape[3] !== w)
      throw new Error(`grad-cam: input is [${input.shape}], expected [N,3,${h},${w}]`);
    const [n, k] = [input.shape[0], this.classes.length];
    const onehot = new Float32Array(n * k);
    for (let i = 0; i < n; i++) onehot[i * k + (targets?.[i] ?? k - 1)] = 1;
    const res = await this.session.run(
      { input, [CAM_TARGET]: { dtype: 'float32', shape: [n, k], data: onehot } },
      ['logits', this.layer, this.gradientName],
    );
    return {
      logits: res.logits as Tensor<'float32'>,
      activation: res[this.layer] as Tensor<'float32'>,
      gradient: res[this.gradientName] as Tensor<'float32'>,
    };
  }

  /** Normalised batch [N,3,H,W] -> per-image explanations (one session call, both views with flip). */
  async explainBatch(input: Tensor<'float32'>): Promise<Explanation[]> {
    const { tta, threshold } = this.model;
    const size = this.size;
    const n = input.shape[0];
    const batch = packBatch([withViews(input.data, size[1], tta)], size);
    const first = await this.run(batch);
    const logits = first.logits;
    let { activation, gradient } = first;
    const k = this.classes.length;
    const probs = probabilities(logits.data, k, tta);
    const said = Array.from({ length: n }, (_, i) => decide(probs, k, i, threshold));
    // With more than two classes the map explains the class said: a second call when it is not the last.
    if (k > 2 && said.some((t) => t !== k - 1))
      ({ activation, gradient } = await this.run(batch, [...said, ...(tta ? said : [])]));
    const [, c, fh, fw] = activation.shape;
    const per = c * fh * fw;
    const positive = positiveProbabilities(probs, k);
    const camOf = (j: number) =>
      camFromGradients(
        activation.data.subarray(j * per, (j + 1) * per),
        gradient.data.subarray(j * per, (j + 1) * per),
        [c, fh, fw],
      );
    return Array.from({ length: n }, (_, i) => {
      let cam = camOf(i);
      if (viewCount(tta) === 2) {
        const mirrored = new Float32Array(cam.length);
        mirrorInto(camOf(n + i), fw, mirrored);
        cam = cam.map((v, j) => (v + mirrored[j]) / 2);
      }
      return {
        label: this.classes[said[i]],
        probability: k === 2 ? positive[i] : probs[i * k + said[i]],
        threshold,
        heatmap: upsampleBilinear(cam, [fh, fw], size),
        size: [size[0], size[1]],
      };
    });
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
