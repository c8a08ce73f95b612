import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GradCam, type GradCamOptions } from '../eval/grad-cam.js';
import type { Tensor } from '../graph/tensor.js';
import type { Preprocess } from '../models/backbone.js';
import { Session } from '../runtime/session.js';
import { MODEL_FILE_OF, RUN_FILES, type Precision } from './files.js';
import type { RunInfo } from './run-info.js';
import { readRunInfo } from './run-info-file.js';

/**
 * A finished run folder's checked config.json and its merged model's bytes (model.onnx, or the fp16 or
 * int8 file that `smoker-lora export` wrote beside it); errors name the folder and the fix.
 */
export async function readRunFolder(
  dir: string,
  precision: Precision = 'fp32',
): Promise<{ info: RunInfo; bytes: Uint8Array; modelPath: string }> {
  const info = await readRunInfo(dir);
  const modelPath = join(dir, MODEL_FILE_OF[precision]);
  try {
    return { info, bytes: await readFile(modelPath), modelPath };
  } catch {
    throw new Error(
      precision === 'fp32'
        ? `--model ${dir}: has no ${RUN_FILES.model}; the run did not finish (continue it with 'smoker-lora train --resume')`
        : `--model ${dir}: has no ${MODEL_FILE_OF[precision]} for --precision ${precision}; make it with 'smoker-lora export --model ${dir} --format onnx-${precision} --out <folder>'`,
    );
  }
}

/** Grad-CAM for a finished run folder's model, deciding as the run decides (threshold, test-time flip). */
export async function loadGradCam(dir: string, opts: GradCamOptions = {}): Promise<GradCam> {
  const { info, bytes, modelPath } = await readRunFolder(dir);
  return GradCam.create({ ...info, bytes, where: modelPath }, opts);
}

/** A trained run folder's merged model (model.onnx): plain ONNX inference, no adapters to feed. */
export class SavedModel {
  private constructor(
    readonly dir: string,
    readonly info: RunInfo,
    private readonly session: Session,
  ) {}

  /**
   * Loads the model and runs it once on a blank image, so that a model.onnx which does not take the
   * recorded input size, or does not give one logit per recorded class, is refused here and not on
   * the first real image.
   */
  static async load(
    dir: string,
    opts: { threads?: number; memArena?: boolean; precision?: Precision } = {},
  ): Promise<SavedModel> {
    const { info, bytes, modelPath } = await readRunFolder(dir, opts.precision);
    let session: Session;
    try {
      session = await Session.create(bytes, { threads: opts.threads, memArena: opts.memArena });
    } catch (e) {
      throw new Error(`${modelPath}: not a model ONNX Runtime can load (${oneLine(e)})`);
    }
    const model = new SavedModel(dir, info, session);
    const [h, w] = info.preprocess.size;
    let logits: Float32Array;
    try {
      logits = await model.logits({
        dtype: 'float32',
        shape: [1, 3, h, w],
        data: new Float32Array(3 * h * w),
      });
    } catch (e) {
      await session.release();
      throw new Error(
        `${modelPath}: does not run on a [1,3,${h},${w}] image as config.json's preprocess.size says (${oneLine(e)})`,
      );
    }
    if (logits.length !== info.classes.length) {
      await session.release();
      throw new Error(
        `${join(dir, RUN_FILES.config)}: lists ${info.classes.length} classes but ${modelPath} gives ${logits.length} logits`,
      );
    }
    return model;
  }

  get classes(): string[] {
    return this.info.classes;
  }

  get preprocess(): Preprocess {
    return this.info.preprocess;
  }

  /** Logits [N, classes] for a normalised batch [N,3,H,W]. */
  async logits(input: Tensor<'float32'>): Promise<Float32Array> {
    return (await this.session.run({ input }, ['logits'])).logits.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

const oneLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
