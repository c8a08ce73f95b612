import { formatMetricsTable } from '../eval/format-table.js';
import { runTrainJob, type TrainJobResult } from '../jobs/train-job.js';
import type { TrainConfig } from '../run/train-config.js';
import { onInterrupt } from './interrupt.js';
import { createProgress, type Progress } from './progress.js';

/**
 * Runs a training job with a progress display and Ctrl-C handling. Returns the result, or null when the
 * user stopped it (the checkpoint is saved, `resumeHint` says how to go on, and the exit code is 130).
 */
export async function trainInTerminal(
  config: TrainConfig,
  resume: boolean,
  resumeHint: string,
  recipeNote?: string,
): Promise<{ result: TrainJobResult; progress: Progress } | null> {
  const progress = createProgress(config.epochs);
  const interrupt = onInterrupt(progress.log);
  try {
    const result = await runTrainJob(
      config,
      {
        log: progress.log,
        onStep: (i) => progress.step(i),
        onEpochEnd: () => progress.endEpoch(),
        shouldStop: interrupt.requested,
      },
      { resume, recipeNote },
    );
    progress.endEpoch();
    if (result.outcome === 'interrupted') {
      progress.log(`stopped: checkpoint saved in ${config.out}; ${resumeHint}`);
      process.exitCode = 130;
      return null;
    }
    progress.log(
      `${result.outcome === 'early-stopped' ? 'early-stopped' : 'finished'} in ${result.seconds.toFixed(1)} s; waiting for data: ${(100 * result.dataWait).toFixed(1)}% of step time`,
    );
    if (result.metrics)
      progress.log(
        `\nbest epoch on validation:\n${formatMetricsTable(result.metrics, { color: Boolean(process.stdout.isTTY) })}`,
      );
    return { result, progress };
  } finally {
    interrupt.dispose();
  }
}
