import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toOnnxBytes } from '../../src/graph/onnx-export.js';
import { saveAdapter } from '../../src/lora/adapter-files.js';
import { defaultTargets } from '../../src/lora/default-targets.js';
import { addLora } from '../../src/lora/lora-model.js';
import { mergeLora } from '../../src/lora/merge.js';
import { loadOnnxBackbone } from '../../src/models/load-onnx-backbone.js';
import { Rng } from '../../src/random/rng.js';
import { RUN_FILES } from '../../src/run/files.js';
import { makeRunInfo } from '../../src/run/run-info.js';
import { writeRunInfo } from '../../src/run/run-info-file.js';
import { SEED_RECIPE } from '../../src/run/train-config.js';
import { CLASSES } from '../serve/fixtures.js';
import { seedLoraB } from '../helpers/lora-b.js';

export const PYTHON = '/usr/bin/python3';
/** The Python scripts beside the tests' sources (tests run from dist/test/export). */
export const PYTHON_DIR = fileURLToPath(new URL('../../../test/python/', import.meta.url));

/** Why a Python check cannot run here (no python3 or a missing module), or false. */
export function pythonSkip(modules: string[]): string | false {
  const r = spawnSync(PYTHON, ['-c', modules.map((m) => `import ${m}`).join('; ')], { encoding: 'utf8' });
  return r.status === 0 ? false : `needs ${PYTHON} with ${modules.join(', ')}; skipped`;
}

/** Runs a script of test/python and returns its stdout; a non-zero exit throws with its stderr. */
export function runPython(script: string, args: string[]): string {
  const r = spawnSync(PYTHON, [join(PYTHON_DIR, script), ...args], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${script} exited with ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** onnx.checker.check_model (with shape inference) on each file; throws naming the first it refuses. */
export function onnxCheck(paths: string[]): void {
  runPython('onnx_check.py', paths);
}

/**
 * A run folder of the shared MobileNetV2 with LoRA adapters whose B factors are made non-zero, merged
 * into model.onnx, with config.json as training writes it: a real backbone at 224x224 whose outputs the
 * adapters change, for consumers that must agree with our predictions on real photos.
 */
export async function makeMobileNetRun(dir: string, backbonePath: string, data: string, tta = false) {
  mkdirSync(dir, { recursive: true });
  const backbone = await loadOnnxBackbone(backbonePath);
  const model = addLora(
    backbone,
    { r: 4, alpha: 8, targets: defaultTargets(backbone) },
    { numClasses: 2, seed: 5 },
  );
  seedLoraB(model, new Rng(6), 0.02);
  const config = {
    ...SEED_RECIPE,
    backbone: backbonePath,
    data,
    out: dir,
    threads: 1,
    epochs: 1,
    rank: 4,
    alpha: 8,
    tta,
  };
  await writeRunInfo(dir, makeRunInfo(config, { classes: CLASSES, layout: 'kaggle' }, model));
  await saveAdapter(dir, model);
  writeFileSync(join(dir, RUN_FILES.model), toOnnxBytes(mergeLora(model)));
  return dir;
}
