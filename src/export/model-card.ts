import { basename, resolve } from 'node:path';
import { isBinary, type ModelMetrics } from '../eval/model-metrics.js';
import { backboneLabel } from './backbone-label.js';
import type { ExportSource } from './source.js';

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const num = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toFixed(3));

/** How each format is used, for its card. */
const USAGE: Record<string, string> = {
  'onnx-fp16':
    '`model_fp16.onnx`: float32 in and out, weights stored in float16 (half the download). Input `input` [N,3,H,W], outputs `logits` and `features`. ONNX Runtime (node, web, Python) loads it as is; `smoker-lora serve --precision fp16` serves it.',
  'onnx-int8':
    '`model_int8.onnx`: static int8 (QuantizeLinear/DequantizeLinear, weights per channel, activations per tensor, calibrated on training images), float32 in and out. Input `input` [N,3,H,W], outputs `logits` and `features`. `smoker-lora serve --precision int8` serves it.',
  'transformers.js':
    "A transformers.js model folder: `pipeline('image-classification', '<this folder>')` with `env.localModelPath` set to its parent and `env.allowRemoteModels = false`; `dtype: 'fp16'` or `'q8'` picks `onnx/model_fp16.onnx` or `onnx/model_quantized.onnx`. The pipeline labels by the larger probability (the threshold below is not applied), and in Node it resizes without antialiasing: for the figures below exactly, give it images already resized to the model's size.",
  triton:
    'A Triton / KServe model repository: `tritonserver --model-repository=<this folder>`. Input `input` FP32 [3,H,W] per image (batched), outputs `logits` and `probabilities`; the KServe v2 protocol, as `smoker-lora serve` speaks it.',
  peft: 'A PEFT LoRA adapter for the torchvision model: replace its `fc` by `nn.Linear(features, classes)`, then `PeftModel.from_pretrained(model, <this folder>)`; call `model.eval()` (BatchNorm in eval mode).',
};

/** The validation sentence: the positive class's figures for two classes, the macro ones for more. */
function figures(m: ModelMetrics, positive: string): string {
  const on = `On ${m.n} ${m.split ?? 'held-out'} images: accuracy ${pct(m.accuracy)}`;
  return isBinary(m)
    ? `${on}, precision ${num(m.precision)}, recall ${num(m.recall)}, F1 ${num(m.f1)} (of \`${positive}\`), ROC-AUC ${num(m.roc_auc)}, log loss ${num(m.log_loss)}.`
    : `${on}, macro precision ${num(m.macro.precision)}, recall ${num(m.macro.recall)}, F1 ${num(m.macro.f1)}, ROC-AUC ${num(m.roc_auc_ovr_macro)} (one-vs-rest, macro), log loss ${num(m.log_loss)}.`;
}

/** README.md for an exported folder: what the model does, on what data, how well, how to feed it, and its limits. */
export function modelCard(src: ExportSource, format: string, files: string[]): string {
  const { info, metrics: m, cv } = src;
  const [h, w] = info.preprocess.size;
  const positive = info.classes[info.classes.length - 1];
  const binary = info.classes.length === 2;
  // The data folder by its name: a card travels, the machine's paths stay.
  const dataName = basename(resolve(info.data));
  const ranks = info.rankPattern
    ? ` (${Object.entries(info.rankPattern)
        .map(([k, r]) => `${r} on \`${k}\``)
        .join(', ')})`
    : '';
  const lines = [
    `# ${basename(resolve(src.dir))}: ${info.classes.join(' / ')} image classifier (${format})`,
    '',
    binary
      ? `Detects **${positive}** in photos: for each image it gives the probability of each class (${info.classes.join(', ')}), and says \`${positive}\` when P(${positive}) ≥ ${info.threshold}. Fine-tuned with LoRA by smoker-lora.`
      : `Sorts photos into ${info.classes.length} classes: for each image it gives the probability of each class (${info.classes.join(', ')}), and says the most probable one. Fine-tuned with LoRA by smoker-lora.`,
    '',
    '## Files',
    '',
    ...files.map((f) => `- \`${f}\``),
    '',
    USAGE[format] ?? '',
    '',
    '## Model',
    '',
    `- Backbone: ${backboneLabel(info.backbone)}, LoRA rank ${info.rank}${ranks}, alpha ${info.alpha}${info.rslora ? ' (rsLoRA)' : ''}${info.dora ? ' (DoRA)' : ''} on ${Array.isArray(info.targets) ? `${info.targets.length} convs` : `the convs matching \`${info.targets}\``}, a new ${info.classes.length}-class head`,
    `- Training: ${info.epochs} epochs, batch ${info.batch}, ${info.optimizer} lr ${info.lr}${info.headDropout ? `, dropout ${info.headDropout} before the head` : ''}, seed ${info.seed}${info.allLabelled ? ', on every labelled image (no validation held out)' : `, the ${info.keep} epoch on validation kept`}`,
    ...(info.soupOf
      ? [
          `- A soup of ${info.soupOf.length} such runs (${info.soupOf.map((d) => `\`${basename(resolve(d))}\``).join(', ')}): each adapted conv holds W + the mean of their merged updates, the head is their mean head; the training line is the first run's`,
        ]
      : []),
    '',
    '## Data',
    '',
    `Trained on the images of \`${dataName}\` (${info.layout.split(resolve(info.data)).join(dataName)}), labelled ${info.classes.map((c) => `\`${c}\``).join(' / ')} by file or folder name.`,
    '',
    '## Validation',
    '',
    m
      ? [
          figures(m, positive),
          format === 'onnx-int8' || format === 'onnx-fp16'
            ? 'Measured on the float32 model; this file is a lower-precision copy of it (see the README of smoker-lora for its own accuracy).'
            : '',
        ]
          .filter(Boolean)
          .join(' ')
      : 'The run has no metrics.json (trained on every labelled image, or not evaluated).',
    ...(cv
      ? [
          '',
          `Cross-validation of the recipe (${cv.folds} folds of ${cv.images} images): accuracy ${pct(cv.accuracy.mean)} ± ${pct(cv.accuracy.sd)}, F1 ${num(cv.f1.mean)} ± ${num(cv.f1.sd)}, ROC-AUC ${num(cv.rocAuc.mean)} ± ${num(cv.rocAuc.sd)}.`,
        ]
      : []),
    '',
    '## Preprocessing',
    '',
    `RGB (alpha flattened onto black), the whole image resized to ${h}x${w} (height x width; no crop, aspect not kept, bilinear with antialiasing), pixel/255, then (x − mean) / std per channel with mean [${info.preprocess.mean}] and std [${info.preprocess.std}], planar NCHW float32.${info.tta ? ' The run decides by test-time flip: the mean probability of the image and its mirror image.' : ''}`,
    '',
    '## Intended use',
    '',
    binary
      ? `Screening photos for ${positive}, with a person reviewing what it flags: content moderation queues, counting in consented photo collections, research. Not for decisions about a person without human review.`
      : `Sorting photos into ${info.classes.join(' / ')}, with a person reviewing the results. Not for decisions about a person without human review.`,
    '',
    '## Limits',
    '',
    `- Learned from one small data set (${m ? `validated on ${m.n} images` : 'no held-out validation'}); photos unlike it (other cameras, lighting, cultures, cropping, drawings) may score worse than the figures above.`,
    binary
      ? '- It sees cues, not intent: a pen, a straw or vapour can read as smoking, and small or hidden cigarettes can be missed. Grad-CAM (`smoker-lora explain`) shows what it looked at.'
      : '- It sees cues, not intent. Grad-CAM (`smoker-lora explain`) shows what it looked at.',
    binary
      ? '- Probabilities are calibrated only as well as the validation figures say; the threshold was set for this data.'
      : '- Probabilities are calibrated only as well as the validation figures say.',
    '- Biases of the data (who is pictured, in what settings) carry into the model; they were not measured.',
    '',
  ];
  return lines.join('\n');
}
