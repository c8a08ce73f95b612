import { appendBackward } from '../autodiff/backward.js';
import { decodeResized, toCHW } from '../data/image.js';
import { attr, type Graph, type Node } from '../graph/ir.js';
import { fromOnnxBytes } from '../graph/onnx-import.js';
import { f32, type Tensor } from '../graph/tensor.js';
import { probeShapes } from '../runtime/probe-shapes.js';
import { Session } from '../runtime/session.js';
import { readRunFolder, type RunInfo } from './saved-model.js';

/** Why an image got its label: the positive class's Grad-CAM map at the model input size. */
export interface Explanation {
  /** The predicted class: the positive (last) class when `probability >= threshold`. */
  label: string;
  /** Softmax probability of the positive class. */
  probability: number;
  threshold: number;
  /** [h*w] row-major in [0,1] at the model input size; all zeros when nothing speaks for the positive class. */
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
  /** d(positive logit)/dA per sample, [N, C, h, w]. */
  gradient: Tensor<'float32'>;
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

/** Ops between the global average pool and the `features` value that leave the pooled vector as is. */
const PASS_THROUGH = new Set(['Flatten', 'Reshape', 'Squeeze', 'Identity']);

/**
 * The last conv block's activation: the 4-D input of the GlobalAveragePool that `features` is a
 * flattened view of. `where` names the model file in errors.
 */
export function findCamLayer(g: Graph, where = 'model'): string {
  const producers = g.producers();
  let node: Node | undefined = producers.get('features');
  if (!node) throw new Error(`${where}: no value named 'features'; Grad-CAM needs the merged run model`);
  while (node && PASS_THROUGH.has(node.op)) node = producers.get(node.inputs[0]);
  if (node?.op !== 'GlobalAveragePool')
    throw new Error(
      `${where}: 'features' does not come from a GlobalAveragePool (found ${node?.op ?? 'a graph input'}), so there is no spatial layer to explain; pass a layer`,
    );
  return node.inputs[0];
}

/**
 * Turns a merged run model (`input` -> `logits`, `features`) into the Grad-CAM graph in place: the input
 * is fixed to [N,3,h,w], the loss is the positive (last) class logit summed over the batch (samples are
 * independent, so its gradient holds each sample's own d logit/dA), and the outputs become `logits`, A
 * and dlogit/dA. Only the tail from A to the logits gets backward nodes: the forward graph upstream of A
 * is left as it is (a MaxPool in the tail gains an Indices output, so pass a graph of your own, e.g. a
 * fresh import or a clone). Returns the names of A and its gradient.
 */
export async function buildGradCamGraph(
  g: Graph,
  opts: { size: [number, number]; layer?: string; where?: string },
): Promise<{ activation: string; gradient: string }> {
  const where = opts.where ?? 'model';
  const image = g.inputs.find((v) => v.name === 'input');
  if (!image || image.shape.length !== 4 || g.inputs.length !== 1)
    throw new Error(`${where}: expected one image input 'input' [N,3,H,W]`);
  const [h, w] = opts.size;
  image.shape.slice(2).forEach((d, i) => {
    if (typeof d === 'number' && d !== opts.size[i])
      throw new Error(`${where}: the model's input is ${image.shape.slice(2).join('x')}, not ${h}x${w}`);
  });
  image.shape = ['N', 3, h, w];
  const logits = g.outputs.find((o) => o.name === 'logits');
  const numClasses = logits?.shape[1];
  if (!logits || typeof numClasses !== 'number')
    throw new Error(`${where}: no 'logits' output [N, classes]; Grad-CAM needs the merged run model`);
  const activation = opts.layer ?? findCamLayer(g, where);
  if (!g.nodes.some((n) => n.outputs.includes(activation)))
    throw new Error(`${where}: no node computes '${activation}'`);

  const onehot = new Float32Array(numClasses);
  onehot[numClasses - 1] = 1;
  const picked = g.op('Mul', ['logits', g.constant(f32([1, numClasses], onehot), 'gradcam.onehot')]);
  const loss = g.op('ReduceSum', [picked], { keepdims: attr.int(0) }, 'gradcam.loss');
  g.outputs = [{ name: 'logits', dtype: 'float32', shape: ['N', numClasses] }];
  const shapes = await probeShapes(g);
  const shape = shapes.get(activation);
  if (!shape || shape.length !== 4)
    throw new Error(`${where}: '${activation}' has shape [${shape}], not [N,C,h,w]`);
  const gradient = appendBackward(g, { loss, wrt: [activation], shapes }).get(activation)!;
  g.outputs.push({ name: activation, dtype: 'float32', shape }, { name: gradient, dtype: 'float32', shape });
  g.prune();
  return { activation, gradient };
}

/**
 * One image's Grad-CAM at the activation's resolution: ReLU(sum_c w_c A_c) with w_c the spatial mean of
 * dlogit/dA_c, divided by its maximum so it lies in [0,1]. A map with no positive value stays all zero
 * rather than being stretched out of noise.
 */
export function camFromGradients(
  activation: Float32Array,
  gradient: Float32Array,
  [c, h, w]: [number, number, number],
): Float32Array {
  const plane = h * w;
  if (activation.length !== c * plane || gradient.length !== c * plane)
    throw new Error(`grad-cam: expected ${c}x${h}x${w} activation and gradient`);
  const cam = new Float64Array(plane);
  for (let k = 0; k < c; k++) {
    let weight = 0;
    for (let i = 0; i < plane; i++) weight += gradient[k * plane + i];
    weight /= plane;
    if (weight === 0) continue;
    for (let i = 0; i < plane; i++) cam[i] += weight * activation[k * plane + i];
  }
  let max = 0;
  for (const v of cam) if (v > max) max = v;
  const out = new Float32Array(plane);
  if (!(max > 0) || !Number.isFinite(max)) return out;
  for (let i = 0; i < plane; i++) out[i] = Math.max(0, cam[i]) / max;
  return out;
}

/**
 * Source index pairs and weights for bilinear resampling along one axis, half-pixel centred
 * (align_corners=False, as OpenCV's and PyTorch's bilinear resize), edges clamped.
 */
export function bilinearTaps(from: number, to: number): { lo: Int32Array; hi: Int32Array; t: Float32Array } {
  const lo = new Int32Array(to);
  const hi = new Int32Array(to);
  const t = new Float32Array(to);
  const scale = from / to;
  for (let i = 0; i < to; i++) {
    const s = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), from - 1);
    lo[i] = Math.floor(s);
    hi[i] = Math.min(lo[i] + 1, from - 1);
    t[i] = s - lo[i];
  }
  return { lo, hi, t };
}

/** Bilinear resize of a single-channel [h*w] map to `to` = [height, width]. */
export function upsampleBilinear(
  src: Float32Array,
  from: [number, number],
  to: [number, number],
): Float32Array {
  const [sh, sw] = from;
  if (src.length !== sh * sw) throw new Error(`upsample: ${src.length} values is not ${sh}x${sw}`);
  const [dh, dw] = to;
  const ys = bilinearTaps(sh, dh);
  const xs = bilinearTaps(sw, dw);
  const out = new Float32Array(dh * dw);
  for (let y = 0; y < dh; y++) {
    const r0 = ys.lo[y] * sw;
    const r1 = ys.hi[y] * sw;
    const ty = ys.t[y];
    for (let x = 0; x < dw; x++) {
      const [x0, x1, tx] = [xs.lo[x], xs.hi[x], xs.t[x]];
      const top = src[r0 + x0] + (src[r0 + x1] - src[r0 + x0]) * tx;
      const bottom = src[r1 + x0] + (src[r1 + x1] - src[r1 + x0]) * tx;
      out[y * dw + x] = top + (bottom - top) * ty;
    }
  }
  return out;
}

/**
 * Grad-CAM (Selvaraju et al. 2017) for a trained run: one ONNX session computes the logits, the last
 * conv block's activation A and d(positive logit)/dA for a whole batch; the channel weighting, ReLU,
 * normalisation and upsampling happen here (a few C·h·w multiply-adds per image).
 *
 * With a global average pool straight into a linear head (every backbone here), dlogit/dA is the head's
 * weight row over h·w at every position, so Grad-CAM coincides with CAM (Zhou et al. 2016); the map
 * explains the positive class's logit, not the softmax probability.
 */
export class GradCam {
  private constructor(
    private readonly session: Session,
    readonly info: RunInfo,
    /** The explained activation and its gradient, as named in the graph. */
    readonly layer: string,
    private readonly gradientName: string,
  ) {}

  static async create(runDir: string, opts: GradCamOptions = {}): Promise<GradCam> {
    const { info, bytes, modelPath } = await readRunFolder(runDir);
    const g = fromOnnxBytes(bytes, modelPath);
    const { activation, gradient } = await buildGradCamGraph(g, {
      size: info.preprocess.size,
      layer: opts.layer,
      where: modelPath,
    });
    const session = await Session.create(g, { threads: opts.threads, memArena: opts.memArena });
    return new GradCam(session, info, activation, gradient);
  }

  get classes(): string[] {
    return this.info.classes;
  }

  /** [h, w] the model reads. */
  get size(): [number, number] {
    return this.info.preprocess.size;
  }

  /** Logits, A and dlogit/dA for a normalised batch [N,3,H,W]. */
  async run(input: Tensor<'float32'>): Promise<GradCamRaw> {
    const [h, w] = this.size;
    if (input.shape.length !== 4 || input.shape[1] !== 3 || input.shape[2] !== h || input.shape[3] !== w)
      throw new Error(`grad-cam: input is [${input.shape}], expected [N,3,${h},${w}]`);
    const res = await this.session.run({ input }, ['logits', this.layer, this.gradientName]);
    return {
      logits: res.logits as Tensor<'float32'>,
      activation: res[this.layer] as Tensor<'float32'>,
      gradient: res[this.gradientName] as Tensor<'float32'>,
    };
  }

  /** Normalised batch [N,3,H,W] -> per-image explanations (one session call). */
  async explainBatch(input: Tensor<'float32'>): Promise<Explanation[]> {
    const { logits, activation, gradient } = await this.run(input);
    const [n, c, fh, fw] = activation.shape;
    const per = c * fh * fw;
    const k = this.classes.length;
    const size = this.size;
    return Array.from({ length: n }, (_, i) => {
      const row = logits.data.subarray(i * k, (i + 1) * k);
      const max = Math.max(...row);
      const exps = Array.from(row, (v) => Math.exp(v - max));
      const probability = exps[k - 1] / exps.reduce((a, b) => a + b, 0);
      const cam = camFromGradients(
        activation.data.subarray(i * per, (i + 1) * per),
        gradient.data.subarray(i * per, (i + 1) * per),
        [c, fh, fw],
      );
      return {
        label: this.classes[probability >= this.info.threshold ? k - 1 : 0],
        probability,
        threshold: this.info.threshold,
        heatmap: upsampleBilinear(cam, [fh, fw], size),
        size: [size[0], size[1]],
      };
    });
  }

  /** One image file or buffer (decoded and preprocessed as the model was trained). */
  async explain(image: string | Buffer): Promise<Explanation> {
    const size = this.size;
    const { rgb } = await decodeResized(image, size);
    const [e] = await this.explainBatch(f32([1, 3, ...size], toCHW(rgb, size, this.info.preprocess)));
    return e;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
