import { join } from 'node:path';
import { isBinary, type ModelMetrics } from '../eval/model-metrics.js';
import { RUN_FILES } from '../run/files.js';
import { writeFileAtomic } from '../weights/atomic-write.js';
import { confusionHeatmapSvg } from './plots/confusion-heatmap.js';
import { svgToPng } from './plots/rasterize.js';
import type { EpochRecord } from '../train/history.js';
import { reliabilitySvg } from './plots/reliability.js';
import { rocCurveSvg } from './plots/roc-curve.js';
import { trainingCurvesSvg } from './plots/training-curves.js';

export interface RenderedPlot {
  /** File name inside the output directory, also its link from report.md. */
  file: string;
  title: string;
}

/**
 * Writes the PNG plots that the inputs allow into `dir` (which must exist): with metrics the
 * confusion matrix, and for two classes the reliability diagram and the ROC curve when both classes
 * are present; training curves when there is a history.
 */
export async function renderPlots(
  dir: string,
  metrics?: ModelMetrics,
  history?: readonly EpochRecord[],
): Promise<RenderedPlot[]> {
  const plots: (RenderedPlot & { svg: () => string })[] = [];
  if (metrics)
    plots.push({
      file: RUN_FILES.confusionPlot,
      title: 'Confusion matrix',
      svg: () => confusionHeatmapSvg(metrics),
    });
  if (metrics && isBinary(metrics)) {
    plots.push({
      file: RUN_FILES.reliabilityPlot,
      title: 'Reliability diagram',
      svg: () => reliabilitySvg(metrics),
    });
    if (metrics.roc !== null)
      plots.push({ file: RUN_FILES.rocPlot, title: 'ROC curve', svg: () => rocCurveSvg(metrics) });
  }
  if (history && history.length > 0)
    plots.push({
      file: RUN_FILES.curvesPlot,
      title: 'Training curves',
      svg: () => trainingCurvesSvg(history),
    });
  for (const p of plots) await writeFileAtomic(join(dir, p.file), await svgToPng(p.svg()));
  return plots.map(({ file, title }) => ({ file, title }));
}
