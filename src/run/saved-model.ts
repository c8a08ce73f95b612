import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tensor } from '../graph/tensor.js';
import type { Preprocess } from '../models/backbone.js';
import { Session } from '../runtime/session.js';
import { RUN_FILES } from '../train/run-files.js';

/** What a run folder's config.json tells an inference user (see runInfo in the training job). */
export interface RunInfo {
  backbone: string;
  classes: string[];
  preprocess: Preprocess;
  threshold: number;
  tta: boolean;
  rank: number;
  alpha: number;
  targets: string | string[];
  [key: string]: unknown;
}

/** A finished run folder's config.json and merged model.onnx bytes; errors name the folder and the fix. */
export async function readRunFolder(
  dir: string,
): Promise<{ info: RunInfo; bytes: Uint8Array; modelPath: string }> {
  const configPath = join(dir, RUN_FILES.config);
  const modelPath = join(dir, RUN_FILES.model);
  let info: RunInfo;
  try {
    info = JSON.parse(await readFile(configPath, 'utf8')) as RunInfo;
  } catch (e) {
    throw new Error(
      `--model ${dir}: cannot read ${configPath} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); pass a run folder written by 'smoker-lora train'`,
    );
  }
  try {
    return { info, bytes: await readFile(modelPath), modelPath };
  } catch {
    throw new Error(
      `--model ${dir}: has no ${RUN_FILES.model}; the run did not finish (continue it with 'smoker-lora train --resume')`,
    );
  }
}

/** A trained run folder's merged model (model.onnx): plain ONNX inference, no adapters to feed. */
export class SavedModel {
  private constructor(
    readonly dir: string,
    readonly info: RunInfo,
    private readonly session: Session,
  ) {}

  static async load(dir: string, opts: { threads?: number; memArena?: boolean } = {}): Promise<SavedModel> {
    const { info, bytes } = await readRunFolder(dir);
    return new SavedModel(
      dir,
      info,
      await Session.create(bytes, { threads: opts.threads, memArena: opts.memArena }),
    );
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
