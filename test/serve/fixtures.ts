import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { computeMetrics } from '../../src/eval/metrics.js';
import { toOnnxBytes } from '../../src/graph/onnx-export.js';
import { defaultTargets } from '../../src/lora/default-targets.js';
import { addLora } from '../../src/lora/lora-model.js';
import { mergeLora } from '../../src/lora/merge.js';
import { buildResNet, randomResNetStateDict } from '../../src/models/resnet.js';
import { Rng } from '../../src/random/rng.js';
import { RUN_FILES } from '../../src/run/files.js';
import { makeRunInfo } from '../../src/run/run-info.js';
import { writeRunInfo } from '../../src/run/run-info-file.js';
import { SEED_RECIPE, type TrainConfig } from '../../src/run/train-config.js';
import { seedLoraB } from '../helpers/lora-b.js';

export const CLASSES = ['notsmoking', 'smoking'];

/**
 * A real run folder as `smoker-lora train` leaves it, minus the training: a random ResNet-18 at 64x64
 * with LoRA adapters whose B factors are made non-zero (so the merge changes the weights), merged into
 * model.onnx, with config.json as the training job writes it and a metrics.json.
 */
export async function makeRunFolder(
  dir: string,
  seed = 7,
  extra: Partial<TrainConfig> = {},
): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const preprocess = {
    size: [64, 64] as [number, number],
    mean: [0.485, 0.456, 0.406] as [number, number, number],
    std: [0.229, 0.224, 0.225] as [number, number, number],
  };
  const backbone = buildResNet(18, randomResNetStateDict(18, seed), { preprocess });
  const config: TrainConfig = {
    ...SEED_RECIPE,
    backbone: 'resnet18',
    data: 'synthetic',
    out: dir,
    threads: 1,
    epochs: 1,
    rank: 4,
    alpha: 8,
    ...extra,
  };
  const model = addLora(
    backbone,
    { r: config.rank, alpha: config.alpha, targets: defaultTargets(backbone) },
    { numClasses: 2, seed },
  );
  seedLoraB(model, new Rng(seed + 1), 0.01);
  await writeRunInfo(dir, makeRunInfo(config, { classes: CLASSES, layout: 'synthetic (test)' }, model));
  writeFileSync(join(dir, RUN_FILES.model), toOnnxBytes(mergeLora(model)));
  const metrics = computeMetrics([0, 0, 1, 1, 1, 0], [0.2, 0.6, 0.7, 0.9, 0.4, 0.1], {
    classes: CLASSES,
    split: 'validation',
  });
  writeFileSync(join(dir, RUN_FILES.metrics), JSON.stringify(metrics, null, 2));
  return dir;
}

/** A deterministic photo-like JPEG: smooth colour gradients, a bright disc and seeded noise. */
export async function testJpeg(width = 320, height = 240, seed = 3): Promise<Buffer> {
  const rng = new Rng(seed);
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const disc = (x - width * 0.6) ** 2 + (y - height * 0.4) ** 2 < (height / 5) ** 2;
      const base = [(255 * x) / width, (255 * y) / height, 128 + 100 * Math.sin(x / 17)];
      for (let c = 0; c < 3; c++)
        raw[(y * width + x) * 3 + c] = Math.max(
          0,
          Math.min(255, (disc ? 240 : base[c]) + rng.uniform(-20, 20)),
        );
    }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** `smoker-lora serve` as a child process; resolves with its URL once it listens. */
export function spawnServe(
  args: string[],
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [cli, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in 60 s:\n${out}`)), 60_000);
    const check = () => {
      const m = /on (http:\/\/\S+?) /.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], output: () => out });
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${out}`));
    });
  });
}
