import { basename, dirname } from 'node:path';
import { toOnnxBytes } from '../graph/onnx-export.js';
import { toFloat16 } from '../quantize/fp16.js';
import { toInt8 } from '../quantize/int8.js';
import { calibrationImages } from './calibration-images.js';
import { classifierGraph } from './classifier-graph.js';
import type { Exporter } from './options.js';
import type { ExportSource } from './source.js';
import { json, writeExportFile } from './write-file.js';

/**
 * transformers.js's model type and image-classification class for a backbone. The class only wraps the
 * ONNX session's `logits`, so the type names what the network is; an ONNX file counts as MobileNetV2 by
 * its file or folder name. The processors are plain resize-rescale-normalise ones: ResNet's usual
 * ConvNextImageProcessor would resize the short side and centre-crop, which the run never did.
 */
function modelType(backbone: string): { type: string; architecture: string; processor: string } {
  if (/^resnet(18|34|50)$/.test(backbone))
    return { type: 'resnet', architecture: 'ResNetForImageClassification', processor: 'BitImageProcessor' };
  if (/mobilenet[_-]?v2/i.test(`${basename(dirname(backbone))}/${basename(backbone)}`))
    return {
      type: 'mobilenet_v2',
      architecture: 'MobileNetV2ForImageClassification',
      processor: 'MobileNetV2ImageProcessor',
    };
  throw new Error(
    `transformers.js names image classifiers by architecture (resnet, mobilenet_v2, ...); the backbone '${basename(backbone)}' is neither a torchvision ResNet nor a MobileNetV2 file`,
  );
}

/** config.json: the architecture and the labels in output order. */
export function transformersConfig(src: ExportSource) {
  const { type, architecture } = modelType(src.info.backbone);
  const classes = src.info.classes;
  return {
    model_type: type,
    architectures: [architecture],
    problem_type: 'single_label_classification',
    num_channels: 3,
    image_size: src.info.preprocess.size[0],
    id2label: Object.fromEntries(classes.map((c, i) => [String(i), c])),
    label2id: Object.fromEntries(classes.map((c, i) => [c, i])),
  };
}

/**
 * preprocessor_config.json: the run's preprocessing. The whole image resized to [height, width] (no
 * crop, aspect not kept, bilinear), pixels scaled by 1/255, then normalised with the run's mean and std.
 */
export function preprocessorConfig(src: ExportSource) {
  const { size, mean, std } = src.info.preprocess;
  return {
    image_processor_type: modelType(src.info.backbone).processor,
    do_convert_rgb: true,
    do_resize: true,
    size: { height: size[0], width: size[1] },
    resample: 2,
    do_center_crop: false,
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: mean,
    image_std: std,
  };
}

/**
 * A transformers.js model folder: `pipeline('image-classification', folder)` loads onnx/model.onnx, and
 * with `dtype: 'fp16'` or `'q8'` model_fp16.onnx or model_quantized.onnx. The model takes `pixel_values`
 * and gives `logits` whose softmax is the run's probabilities (its test-time flip inside the graph).
 */
export const exportTransformersJs: Exporter = async (src, o) => {
  const config = transformersConfig(src);
  const g = classifierGraph(src.graph, {
    input: 'pixel_values',
    tta: src.info.tta,
    size: src.info.preprocess.size,
    outputs: 'log-probabilities',
  });
  const images = await calibrationImages(src.info, { data: o.data, count: o.calibration });
  const q = await toInt8(g, images, { method: o.calibrationMethod, threads: o.threads });
  return [
    await writeExportFile(o.out, 'config.json', json(config)),
    await writeExportFile(o.out, 'preprocessor_config.json', json(preprocessorConfig(src))),
    await writeExportFile(o.out, 'onnx/model.onnx', toOnnxBytes(g)),
    await writeExportFile(o.out, 'onnx/model_fp16.onnx', toOnnxBytes(toFloat16(g))),
    await writeExportFile(o.out, 'onnx/model_quantized.onnx', toOnnxBytes(q)),
  ];
};
