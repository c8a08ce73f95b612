/**
 * The library as the browser gets it (bundled into /lib/engine.js): the same modules as Node's, with
 * onnxruntime-web standing in for onnxruntime-node (see scripts/bundle-web.ts). Nothing here reads files.
 */
export { default as ort } from 'onnxruntime-web';
export { toOnnxBytes } from '../graph/onnx-export.js';
export { onnxBackbone } from '../models/onnx-backbone.js';
export { defaultTargets } from '../lora/default-targets.js';
export { addLora, loadParams } from '../lora/lora-model.js';
export { mergeLora } from '../lora/merge.js';
export { adapterFiles } from '../lora/adapter-format.js';
export { TrainStep } from '../train/train-step.js';
export { ForwardStep } from '../train/forward-step.js';
export { AdamW } from '../train/optim/adamw.js';
export { learningRate } from '../train/lr-schedule.js';
export { Rng } from '../random/rng.js';
export { ImageStore } from '../data/image-store.js';
export { MemoryBatches } from '../data/memory-batches.js';
export { compileKernel } from '../data/augment-kernel.js';
