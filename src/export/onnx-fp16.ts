import { toOnnxBytes } from '../graph/onnx-export.js';
import { toFloat16 } from '../quantize/fp16.js';
import { RUN_FILES } from '../run/files.js';
import type { Exporter } from './options.js';
import { writeExportFile } from './write-file.js';

/**
 * model_fp16.onnx: the merged model with float16 weight storage (see toFloat16), the same input and
 * outputs as model.onnx. Also written into the run folder, where `serve --precision fp16` finds it.
 */
export const exportOnnxFp16: Exporter = async (src, o) => {
  const bytes = toOnnxBytes(toFloat16(src.graph));
  await writeExportFile(src.dir, RUN_FILES.modelFp16, bytes);
  return [await writeExportFile(o.out, RUN_FILES.modelFp16, bytes)];
};
