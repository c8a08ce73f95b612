/** The files of a run folder. */
export const RUN_FILES = {
  config: 'config.json',
  checkpoint: 'checkpoint.safetensors',
  model: 'model.onnx',
  history: 'history.json',
  historyCsv: 'history.csv',
  metrics: 'metrics.json',
  report: 'report.md',
} as const;
