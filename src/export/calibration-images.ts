import { discoverDataset } from '../data/dataset.js';
import { BatchLoader } from '../data/loader.js';
import type { Tensor } from '../graph/tensor.js';
import { Rng } from '../random/rng.js';
import type { RunInfo } from '../run/run-info.js';

/**
 * int8 calibration reads every training image by default. ORT's examples use 128, but on these photos
 * 128 left int8 one validation answer in 180 behind float32 where all 716 (about 19 s) matched it, and
 * the activation ranges come from the images the model was trained on either way.
 */
export const DEFAULT_CALIBRATION_IMAGES = Infinity;

/**
 * `count` of the run's training images (never validation ones; `Infinity`: all of them), a seeded draw, decoded and normalised as
 * evaluation does (no augmentation), in batches of 32: what int8 calibration measures activations on.
 * The data is the run's own (config.json's `data`) unless `data` points elsewhere.
 */
export async function calibrationImages(
  info: RunInfo,
  o: { data?: string; count: number },
): Promise<Tensor<'float32'>[]> {
  const root = o.data ?? info.data;
  let train;
  try {
    train = discoverDataset(root, { seed: info.seed, splitFractions: info.splitFractions }).splits.train;
  } catch (e) {
    throw new Error(
      `int8 calibration reads the run's training images, but ${(e as Error).message.split(';')[0]}; pass --data <the data root>`,
    );
  }
  if (train.length === 0) throw new Error(`int8 calibration: ${root} has no training images; pass --data`);
  const samples = new Rng(info.seed).shuffle([...train]).slice(0, o.count);
  const loader = await BatchLoader.open({
    samples,
    preprocess: info.preprocess,
    batchSize: 32,
    onBadImage: info.onBadImage,
  });
  const out: Tensor<'float32'>[] = [];
  try {
    for await (const b of loader.epoch(0)) out.push(b.input);
  } finally {
    await loader.close();
  }
  return out;
}
