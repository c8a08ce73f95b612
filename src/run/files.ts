import { ADAPTER_CONFIG, ADAPTER_WEIGHTS } from '../lora/adapter-format.js';

/**
 * Every file of a run folder, and of an evaluation folder (which holds the report files), by name. The
 * adapter's two names are PEFT's, owned by the adapter format and listed here as they are.
 */
export const RUN_FILES = {
  config: 'config.json',
  checkpoint: 'checkpoint.safetensors',
  model: 'model.onnx',
  modelFp16: 'model_fp16.onnx',
  modelInt8: 'model_int8.onnx',
  adapterConfig: ADAPTER_CONFIG,
  adapterWeights: ADAPTER_WEIGHTS,
  history: 'history.json',
  /** A cross-validation fold's held-out scores and history, small enough to commit. */
  foldScores: 'fold-scores.json',
  historyCsv: 'history.csv',
  metrics: 'metrics.json',
  report: 'report.md',
  confusionPlot: 'confusion-matrix.png',
  rocPlot: 'roc-curve.png',
  reliabilityPlot: 'reliability.png',
  curvesPlot: 'training-curves.png',
} as const;

/** The precisions a run's merged model can be served in, and the run-folder file of each. */
export const PRECISIONS = ['fp32', 'fp16', 'int8'] as const;
export type Precision = (typeof PRECISIONS)[number];
export const MODEL_FILE_OF: Record<Precision, string> = {
  fp32: RUN_FILES.model,
  fp16: RUN_FILES.modelFp16,
  int8: RUN_FILES.modelInt8,
};
