import type { Preprocess } from '../models/backbone.js';
import type { AugmentConfig, AugmentDraw, JitterConfig } from './augment.js';
import { bilinearTaps } from './resized-crop.js';

/*
 * The WebAssembly kernel (augment-kernel.as.ts) for images of one size: its buffers, allocated once in
 * its memory, and the calls that run torchvision's transforms on one image at a time. Its two stages
 * are the bytes before and after TrivialAugment (which runs between them, on the ONNX graph).
 */

/** The slice of the WebAssembly API used here: ES2022's lib, which the Node build types against, has none. */
interface WasmApi {
  compile(bytes: Uint8Array): Promise<KernelModule>;
  instantiate(module: KernelModule, imports: object): Promise<{ exports: unknown }>;
}

const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** augment-kernel.wasm compiled (a WebAssembly.Module), to instantiate per image size. */
export type KernelModule = object;

/** Compiles augment-kernel.wasm's bytes (read from disk in Node, fetched in the browser). */
export function compileKernel(bytes: Uint8Array): Promise<KernelModule> {
  return wasm.compile(bytes);
}

interface Exports {
  memory: { buffer: ArrayBuffer };
  alloc(bytes: number): number;
  crop(...args: number[]): void;
  affine(...args: number[]): void;
  colour(...args: number[]): void;
}

/** ColorJitter's adjustments as the kernel takes them: up to four (kind, ratio or shift, 1 − ratio). */
const MAX_OPS = 4;

export class AugmentKernel {
  private readonly bytes: number;
  private readonly at: Record<
    'src' | 'crop' | 'turn' | 'across' | 'taps' | 'row' | 'ops' | 'planes' | 'out',
    number
  >;

  private constructor(
    private readonly x: Exports,
    private readonly size: readonly [number, number],
  ) {
    const [h, w] = size;
    const n = h * w;
    const four = (k: number) => Math.ceil(k / 4) * 4;
    this.bytes = n * 3;
    // The kernel reads and writes an image's bytes 16 or 4 at a time, so up to 13 past its last pixel.
    const image = four(this.bytes) + 16;
    // Offsets stay valid as memory grows; views are made per call since growing detaches the old buffer.
    this.at = {
      src: x.alloc(image),
      crop: x.alloc(image),
      turn: x.alloc(image),
      across: x.alloc(4 * this.bytes),
      taps: x.alloc(4 * 4 * (w + h)),
      row: x.alloc(4 * four(w)),
      ops: x.alloc(4 * 3 * MAX_OPS),
      planes: x.alloc(4 * 3 * four(n)),
      out: x.alloc(4 * 3 * n),
    };
  }

  /** An instance of the compiled kernel with buffers for images of `size` [H, W]. */
  static async open(module: KernelModule, size: readonly [number, number]): Promise<AugmentKernel> {
    const abort = () => {
      throw new Error('augment kernel: out of memory');
    };
    const instance = await wasm.instantiate(module, { env: { abort } });
    return new AugmentKernel(instance.exports as unknown as Exports, size);
  }

  /**
   * RandomResizedCrop, RandomHorizontalFlip and RandomRotation of HWC bytes, as `cfg` has them on:
   * the result's bytes, a view valid until the next call.
   */
  geometry(rgb: Uint8Array, draw: AugmentDraw, cfg: AugmentConfig): Uint8Array {
    const [h, w] = this.size;
    const { x, at } = this;
    this.view(at.src).set(rgb);
    let from = at.src;
    if (cfg.cropScale) {
      const box = draw.crop;
      if (!box) throw new Error('augment kernel: the draw has no crop box');
      const across = bilinearTaps(box.left, box.width, w);
      const down = bilinearTaps(box.top, box.height, h);
      const taps = [
        ...[across.index[0], across.index[1]].map((v) => Int32Array.from(v)),
        ...[across.weight[0], across.weight[1]].map((v) => Float32Array.from(v)),
        ...[down.index[0], down.index[1]].map((v) => Int32Array.from(v)),
        ...[down.weight[0], down.weight[1]].map((v) => Float32Array.from(v)),
      ];
      const ptrs: number[] = [];
      let ptr = at.taps;
      for (const t of taps) {
        new Uint8Array(x.memory.buffer, ptr, t.byteLength).set(new Uint8Array(t.buffer));
        ptrs.push(ptr);
        ptr += t.byteLength;
      }
      x.crop(from, at.crop, h, w, ...ptrs, at.across);
      from = at.crop;
    }
    if (cfg.hflip > 0 || cfg.rotate > 0) {
      const [a, b, d, e] = inverseRotation(draw.degrees, h, w);
      x.affine(from, at.turn, h, w, a, b, 0, d, e, 0, draw.flip ? 1 : 0, at.row);
      from = at.turn;
    }
    return this.view(from);
  }

  /**
   * ColorJitter in the drawn order, the adjustments `cfg` switches on (omit both for none), then
   * ToTensor and Normalize of HWC bytes: float32 CHW [3·H·W], a view valid until the next call.
   */
  colour(rgb: Uint8Array, p: Preprocess, cfg?: JitterConfig, draw?: AugmentDraw): Float32Array {
    const { x, at } = this;
    const n = this.size[0] * this.size[1];
    // geometry()'s result is already in the kernel's memory; other bytes are copied in.
    const inside = rgb.buffer === x.memory.buffer;
    if (!inside) this.view(at.src).set(rgb);
    const ops = cfg ? jitterOps(cfg, draw) : new Float32Array(0);
    new Float32Array(x.memory.buffer, at.ops, ops.length).set(ops);
    const from = inside ? rgb.byteOffset : at.src;
    x.colour(from, at.out, n, at.ops, ops.length / 3, at.planes, ...p.mean, ...p.std);
    return new Float32Array(x.memory.buffer, at.out, 3 * n);
  }

  private view(ptr: number): Uint8Array {
    return new Uint8Array(this.x.memory.buffer, ptr, this.bytes);
  }
}

/**
 * _get_inverse_affine_matrix(centre 0, −angle) divided by the half sizes (rescaled_theta of
 * _gen_affine_grid), in float32: (cos/½w, −sin/½w, sin/½h, cos/½h).
 */
function inverseRotation(degrees: number, h: number, w: number): number[] {
  const rad = (degrees * Math.PI) / 180;
  const [cos, sin] = [Math.fround(Math.cos(rad)), Math.fround(Math.sin(rad))];
  return [cos / (0.5 * w), -sin / (0.5 * w), sin / (0.5 * h), cos / (0.5 * h)].map(Math.fround);
}

/**
 * One image's ColorJitter draws as the kernel's ops, in the drawn order of the adjustments `cfg`
 * switches on: (0 brightness, 1 contrast or 2 saturation, the factor, 1 − the factor) or (3 hue, the
 * shift, 0), in float32 as torch rounds them.
 */
function jitterOps(cfg: JitterConfig, draw?: AugmentDraw): Float32Array {
  const on = [cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue].map((v) => v > 0);
  if (!on.some(Boolean)) return new Float32Array(0);
  const j = draw?.jitter;
  if (!j) throw new Error('augment kernel: the draw has no jitter');
  const factors = [j.brightness, j.contrast, j.saturation, j.hue];
  const ops: number[] = [];
  for (const op of j.order) {
    if (!on[op]) continue;
    const f = factors[op];
    if (f === undefined)
      throw new Error('augment kernel: the draw has no factor for a switched-on adjustment');
    ops.push(op, f, op === 3 ? 0 : 1 - f);
  }
  return Float32Array.from(ops);
}
