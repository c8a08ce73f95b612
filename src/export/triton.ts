import { toOnnxBytes } from '../graph/onnx-export.js';
import { deployedModelName } from '../run/model-name.js';
import { classifierGraph } from './classifier-graph.js';
import type { Exporter } from './options.js';
import { writeExportFile } from './write-file.js';

/** The one version a repository holds, and the one `serve` answers the v2 protocol as. */
export const MODEL_VERSION = '1';
export const LABELS_FILE = 'labels.txt';

export interface TritonModel {
  name: string;
  maxBatch: number;
  /** [3, H, W]: the input's dims without the batch axis. */
  inputDims: number[];
  classes: number;
  /** Triton's dynamic batcher waits at most this long to fill a batch, as `serve --batch-window-ms`. */
  queueDelayUs: number;
}

/**
 * config.pbtxt in protobuf text format (Triton's ModelConfig): ONNX Runtime, the batch axis implicit
 * (max_batch_size > 0, so dims leave it out), the dynamic batcher, and the labels file on both outputs
 * so Triton's classification extension can name the classes.
 */
export function tritonConfig(m: TritonModel): string {
  const tensor = (name: string, dims: number[], labels: boolean) =>
    [
      '  {',
      `    name: "${name}"`,
      '    data_type: TYPE_FP32',
      `    dims: [ ${dims.join(', ')} ]`,
      ...(labels ? [`    label_filename: "${LABELS_FILE}"`] : []),
      '  }',
    ].join('\n');
  return [
    `name: "${m.name}"`,
    'platform: "onnxruntime_onnx"',
    `max_batch_size: ${m.maxBatch}`,
    'input [',
    tensor('input', m.inputDims, false),
    ']',
    'output [',
    [tensor('logits', [m.classes], true), tensor('probabilities', [m.classes], true)].join(',\n'),
    ']',
    'dynamic_batching {',
    `  max_queue_delay_microseconds: ${m.queueDelayUs}`,
    '}',
    'version_policy: { latest: { num_versions: 1 } }',
    '',
  ].join('\n');
}

/**
 * A Triton / KServe model repository: `<out>/<name>/config.pbtxt`, `<out>/<name>/1/model.onnx` and
 * `<out>/<name>/labels.txt`. The model gives `logits` and `probabilities` (softmax and the run's
 * test-time flip in the graph), the outputs `serve` answers on its own v2 endpoint.
 */
export const exportTriton: Exporter = async (src, o) => {
  const name = o.name ?? deployedModelName(src.dir);
  if (!/^[A-Za-z0-9_.-]+$/.test(name))
    throw new Error(`--name ${name}: must be letters, digits, _, . or - (a folder name Triton accepts)`);
  const g = classifierGraph(src.graph, {
    input: 'input',
    tta: src.info.tta,
    size: src.info.preprocess.size,
    outputs: 'probabilities',
  });
  const config = tritonConfig({
    name,
    maxBatch: o.maxBatch,
    inputDims: [3, ...src.info.preprocess.size],
    classes: src.info.classes.length,
    // As long as `serve` waits to fill a batch by default (--batch-window-ms 5).
    queueDelayUs: 5000,
  });
  return [
    await writeExportFile(o.out, `${name}/config.pbtxt`, config),
    await writeExportFile(o.out, `${name}/${LABELS_FILE}`, src.info.classes.join('\n') + '\n'),
    await writeExportFile(o.out, `${name}/${MODEL_VERSION}/model.onnx`, toOnnxBytes(g)),
  ];
};
