import { ADAPTER_CONFIG, ADAPTER_WEIGHTS } from '../lora/adapter-format.js';

/**
 * Every file of a run folder, and of an evaluation folder (which holds the report files), by name. The
 * adapter's two names are PEFT's, owned by the adapter format and listed here as they are.
 */
export const RUN_FILES = {
  config: 'config.json',
  checkpoint: 'checkpoint.safetensors',
  model: 'model.onnx',
  adapterConfig: ADAPTER_CONFIG,
  adapterWeights: ADAPTER_WEIGHTS,
  history: 'history.json',
  historyCsv: 'history.csv',
  metrics: 'metrics.json',
  report: 'report.md',
  confusionPlot: 'confusion-matrix.png',
  rocPlot: 'roc-curve.png',
  reliabilityPlot: 'reliability.png',
  curvesPlot: 'training-curves.png',
} as const;
