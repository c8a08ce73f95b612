/**
 * smoker-lora's library API: build a backbone, add LoRA, compile a train step, step, and read or write
 * adapters and merged models.
 */
export { Graph, attr } from './graph/ir.js';
export type { Tensor, DType } from './graph/tensor.js';
export { toOnnxBytes } from './graph/onnx-export.js';
export { fromOnnxBytes } from './graph/onnx-import.js';
export { Session } from './runtime/session.js';
export { appendBackward } from './autodiff/backward.js';
export { appendCrossEntropy, crossEntropyCoefficients } from './autodiff/cross-entropy.js';
export type { Backbone, Preprocess } from './models/backbone.js';
export { buildResNet, randomResNetStateDict } from './models/resnet.js';
export { resolveResNetWeights, loadStateDict } from './models/torchvision-weights.js';
export { loadOnnxBackbone } from './models/load-onnx-backbone.js';
export { onnxBackbone } from './models/onnx-backbone.js';
export type { LoraConfig } from './lora/config.js';
export { defaultTargets } from './lora/default-targets.js';
export { addLora, loadParams, type LoraModel } from './lora/lora-model.js';
export { mergeLora, mergeSoup, unmergeLora } from './lora/merge.js';
export { formatParamTable, summarizeParams } from './lora/param-table.js';
export { saveAdapter, readAdapterConfig, loadAdapterWeights } from './lora/adapter-files.js';
export { TrainStep, type TrainStepOptions } from './train/train-step.js';
export { ForwardStep } from './train/forward-step.js';
export { AdamW } from './train/optim/adamw.js';
export { SGD } from './train/optim/sgd.js';
export { clipGradNorm } from './train/optim/clip-grad-norm.js';
export { loadSafetensors, saveSafetensors } from './weights/safetensors-file.js';
export { loadTorchCheckpoint } from './weights/torch-checkpoint.js';
export { exportRun, EXPORT_FORMATS, type ExportFormat } from './export/export-run.js';
export type { ExportOptions } from './export/options.js';
export { SEED_RECIPE, trainConfigSchema, type TrainConfig } from './run/train-config.js';
// The jobs behind the CLI's commands, for scripts: each takes the settings its command's flags make.
export { runTrainJob, type JobHooks } from './jobs/train-job.js';
export { DEMO_RECIPE } from './jobs/demo.js';
export { runCv, type CvOptions, type CvSummary } from './jobs/cv.js';
export { runCvSeeds, type SeedsSummary } from './jobs/cv-seeds.js';
export { soupRuns } from './jobs/soup.js';
