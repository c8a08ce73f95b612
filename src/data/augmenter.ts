import { tensor, type Tensor } from '../graph/tensor.js';
import type { Preprocess } from '../models/backbone.js';
import { Session } from '../runtime/session.js';
import { type AugmentConfig, type AugmentDraw, checkAugmentConfig } from './augment.js';
import { AugmentKernel, type KernelModule } from './augment-kernel.js';
import { TRIVIAL_IO, trivialFeeds, trivialGraph } from './trivial-augment-graph.js';

/**
 * Images per run of TrivialAugment's graph, whose elementwise passes are memory-bound. Measured with the
 * kernel around it (2 cores, 224, 704 images, 3 passes each): 1.13–1.27 s in runs of 8, 1.24–1.37 s of
 * 4, 1.32–1.57 s of 16, 1.33–1.51 s of 32; again on a busier minute, 1.47–1.72 s of 8 and 1.28–1.55 s
 * of 32. Runs of 8 are as fast as any, with the smallest planes.
 */
const CHUNK = 8;

/**
 * torchvision's training transforms (RandomResizedCrop → RandomHorizontalFlip → RandomRotation →
 * TrivialAugmentWide → ColorJitter → ToTensor and Normalize) on images of one size, bit for bit as
 * torchvision computes them: the WebAssembly kernel (augment-kernel) runs all but TrivialAugment, one
 * image at a time; TrivialAugment, when on, runs between its two stages as an ONNX graph over runs of
 * the batch. Without a config it only normalises (evaluation). It runs in Node and in the browser.
 */
export class Augmenter {
  private constructor(
    private readonly kernel: AugmentKernel,
    private readonly preprocess: Preprocess,
    private readonly cfg: AugmentConfig | undefined,
    private readonly trivial: Session | undefined,
  ) {}

  /** `kernel` is augment-kernel.wasm compiled; `threads` are ONNX Runtime's for TrivialAugment's graph. */
  static async open(
    kernel: KernelModule,
    preprocess: Preprocess,
    cfg?: AugmentConfig,
    threads = 1,
  ): Promise<Augmenter> {
    if (cfg) checkAugmentConfig(cfg);
    // No arena: it would hold its largest runs' intermediates through every train step.
    const trivial = cfg?.trivialAugment
      ? await Session.create(trivialGraph(preprocess.size), { threads, memArena: false })
      : undefined;
    return new Augmenter(await AugmentKernel.open(kernel, preprocess.size), preprocess, cfg, trivial);
  }

  /**
   * The batch [N,3,H,W] of `images` (HWC RGB bytes of the preprocess size) under their `draws`, written
   * into `into` when given (a recycled batch, or a share of an AugmentPool batch).
   */
  async run(
    images: readonly Uint8Array[],
    draws?: readonly AugmentDraw[],
    into?: Float32Array,
  ): Promise<Tensor<'float32'>> {
    const { kernel, preprocess, cfg } = this;
    const [h, w] = preprocess.size;
    const per = h * w * 3;
    if (cfg && draws?.length !== images.length)
      throw new Error(`augment: ${draws?.length ?? 0} draws for ${images.length} images`);
    images.forEach((rgb, i) => {
      if (rgb.length !== per) throw new Error(`augment: image ${i} is not ${h}x${w} RGB`);
    });
    if (into && into.length !== images.length * per)
      throw new Error(`augment: ${into.length} floats to write ${images.length} images into`);
    const out = into ?? new Float32Array(images.length * per);
    const turn = (i: number) => (cfg ? kernel.geometry(images[i], draws![i], cfg) : images[i]);
    const finish = (rgb: Uint8Array, i: number) =>
      out.set(kernel.colour(rgb, preprocess, cfg?.jitter, draws?.[i]), i * per);
    if (!this.trivial) images.forEach((_, i) => finish(turn(i), i));
    else
      for (let at = 0; at < images.length; at += CHUNK) {
        const count = Math.min(CHUNK, images.length - at);
        const pixels = new Uint8Array(count * per);
        for (let j = 0; j < count; j++) pixels.set(turn(at + j), j * per);
        const done = await this.trivialRun(pixels, draws!.slice(at, at + count));
        done.forEach((rgb, j) => finish(rgb, at + j));
      }
    return tensor('float32', [images.length, 3, h, w], out);
  }

  /** TrivialAugment on `pixels`, the HWC bytes of draws.length images one after another. */
  private async trivialRun(pixels: Uint8Array, draws: readonly AugmentDraw[]): Promise<Uint8Array[]> {
    const [h, w] = this.preprocess.size;
    const per = h * w * 3;
    const ops = draws.map((d, i) => {
      if (!d.trivial) throw new Error(`augment: draw ${i} has no TrivialAugment op`);
      return d.trivial;
    });
    const result = await this.trivial!.run(trivialFeeds(pixels, ops, [h, w]));
    const bytes = result[TRIVIAL_IO.output].data as Uint8Array;
    return draws.map((_, i) => bytes.subarray(i * per, (i + 1) * per));
  }

  release(): Promise<void> {
    return this.trivial?.release() ?? Promise.resolve();
  }
}
