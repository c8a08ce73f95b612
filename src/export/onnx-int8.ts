import { toOnnxBytes } from '../graph/onnx-export.js';
import { toInt8 } from '../quantize/int8.js';
import { RUN_FILES } from '../run/files.js';
import { calibrationImages } from './calibration-images.js';
import type { Exporter } from './options.js';
import { writeExportFile } from './write-file.js';

/**
 * model_int8.onnx: static int8 (QDQ) calibrated on the run's training images, the same input and outputs
 * as model.onnx. Also written into the run folder, where `serve --precision int8` finds it.
 */
export const exportOnnxInt8: Exporter = async (src, o) => {
  const images = await calibrationImages(src.info, { data: o.data, count: o.calibration });
  const q = await toInt8(src.graph, images, { method: o.calibrationMethod, threads: o.threads });
  const bytes = toOnnxBytes(q);
  await writeExportFile(src.dir, RUN_FILES.modelInt8, bytes);
  return [await writeExportFile(o.out, RUN_FILES.modelInt8, bytes)];
};
