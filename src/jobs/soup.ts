import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { toOnnxBytes } from '../graph/onnx-export.js';
import { loadAdapterWeights } from '../lora/adapter-files.js';
import { addLora } from '../lora/lora-model.js';
import { mergeSoup } from '../lora/merge.js';
import { resolveBackbone } from '../models/resolve-backbone.js';
import { RUN_FILES } from '../run/files.js';
import { checkRunFolder, createRunFolder } from '../run/run-folder.js';
import type { RunInfo } from '../run/run-info.js';
import { readRunInfo, writeRunInfo } from '../run/run-info-file.js';
import { loraConfigFor } from '../run/train-config.js';
import { writeFileAtomic } from '../weights/atomic-write.js';

/**
 * What runs must share to be souped: the network they adapt, how, and what they classify and at which
 * threshold. Data, seed and the training settings may differ (folds of a CV, seeds of one recipe).
 */
const SHARED = [
  'backbone',
  'weights',
  'imageSize',
  'preprocess',
  'rank',
  'alpha',
  'targets',
  'rankPattern',
  'rslora',
  'dora',
  'classes',
  'threshold',
] as const satisfies readonly (keyof RunInfo)[];

/**
 * One plain model from finished runs of one network (say, one recipe's runs over seeds): each adapted
 * conv gets W + the mean of the runs' merged updates and the head is the mean head (lora/merge.ts). It
 * is written to `out` as a run folder (the first run's config.json, naming the runs in `soupOf`, and
 * model.onnx), which evaluate, predict, serve and the ONNX exports take as they take a trained run.
 */
export async function soupRuns(runs: readonly string[], out: string): Promise<RunInfo> {
  if (runs.length < 2) throw new Error(`soup: give two or more run folders (got ${runs.length})`);
  const infos = await Promise.all(runs.map((dir) => readRunInfo(dir)));
  for (const [i, dir] of runs.entries()) {
    const { soupOf } = infos[i];
    if (soupOf)
      throw new Error(
        `soup: ${dir} is a soup itself (of ${soupOf.join(', ')}), with no adapter of its own; give its runs instead`,
      );
    if (!existsSync(join(dir, RUN_FILES.model)) || !existsSync(join(dir, RUN_FILES.adapterWeights)))
      throw new Error(
        `soup: ${dir} is not a finished run (no ${RUN_FILES.model} or ${RUN_FILES.adapterWeights}); finish it with 'smoker-lora train --resume' first`,
      );
  }
  const [first] = infos;
  for (const [i, info] of infos.entries()) {
    const field = SHARED.find((f) => !isDeepStrictEqual(info[f], first[f]));
    if (field)
      throw new Error(
        `soup: ${runs[i]} has another ${field} than ${runs[0]} (${JSON.stringify(info[field]) ?? 'none'} against ${JSON.stringify(first[field]) ?? 'none'}); soup runs of one network, such as one recipe's seeds`,
      );
  }
  const state = checkRunFolder(out, first.data);
  if (state !== 'new')
    throw new Error(
      `--out ${out}: holds a run already; choose a new or empty folder, so nothing is overwritten`,
    );
  let backbone;
  try {
    backbone = await resolveBackbone(first.backbone, first.weights, first.imageSize);
  } catch (e) {
    throw new Error(`soup: the runs' backbone: ${(e as Error).message.replace(/^--backbone /, '')}`);
  }
  const config = loraConfigFor(first, backbone);
  const models = [];
  for (const dir of runs) {
    const model = addLora(backbone, config, { numClasses: first.classes.length });
    await loadAdapterWeights(dir, model);
    models.push(model);
  }
  const info: RunInfo = { ...first, out, soupOf: [...runs] };
  await createRunFolder(out);
  // The model last: until it is there, the folder is not a finished run and a retry may write it.
  await writeRunInfo(out, info);
  await writeFileAtomic(join(out, RUN_FILES.model), toOnnxBytes(mergeSoup(models)));
  return info;
}
