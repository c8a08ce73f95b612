import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { ModelMetrics } from '../eval/model-metrics.js';
import type { Graph } from '../graph/ir.js';
import { fromOnnxBytes } from '../graph/onnx-import.js';
import { RUN_FILES } from '../run/files.js';
import type { RunInfo } from '../run/run-info.js';
import { readRunFolder } from '../run/saved-model.js';

/** The cross-validation a fold or soup run belongs to (its parent's cv.json), as far as a model card shows it. */
export interface CvFigures {
  folds: number;
  images: number;
  accuracy: { mean: number; sd: number };
  f1: { mean: number; sd: number };
  rocAuc: { mean: number; sd: number };
}

/** A finished run as the export formats read it. */
export interface ExportSource {
  dir: string;
  info: RunInfo;
  /** The merged float32 model.onnx. */
  graph: Graph;
  /** Validation figures of the run, as its metrics.json holds them. */
  metrics: ModelMetrics | null;
  cv: CvFigures | null;
}

export async function readExportSource(dir: string): Promise<ExportSource> {
  const { info, bytes, modelPath } = await readRunFolder(dir);
  return {
    dir,
    info,
    graph: fromOnnxBytes(bytes, modelPath),
    metrics: readJson<ModelMetrics>(join(dir, RUN_FILES.metrics)),
    cv: readJson<CvFigures>(join(dirname(resolve(dir)), 'cv.json')),
  };
}

function readJson<T>(path: string): T | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
}
