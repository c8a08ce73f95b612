import { decodeResized } from '../data/image.js';
import { packBatch } from '../data/pack-batch.js';
import { toCHW } from '../data/to-chw.js';
import type { Explanation, GradCam } from './grad-cam.js';

/** One image file or buffer, decoded and preprocessed as the model was trained, explained by `cam`. */
export async function explainImage(cam: GradCam, image: string | Buffer): Promise<Explanation> {
  const size = cam.size;
  const { rgb } = await decodeResized(image, size);
  const [e] = await cam.explainBatch(packBatch([toCHW(rgb, size, cam.preprocess)], size));
  return e;
}
