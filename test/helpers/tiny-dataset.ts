import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { randomResNetStateDict } from '../../src/models/resnet.js';
import { Rng } from '../../src/random/rng.js';
import { saveSafetensors } from '../../src/weights/safetensors-file.js';

/** A temporary folder, removed when `cleanup` (e.g. node:test's `after`) runs its callback. */
export function tempDir(prefix: string, cleanup: (fn: () => void) => void): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * One synthetic photo as a JPEG: 'smoking' images carry a bright diagonal band (a distinctive pattern
 * a small model can learn), 'notsmoking' ones a smooth gradient; both with seeded noise so no two are
 * alike. Deterministic in (smoking, seed).
 */
export function tinyImage(smoking: boolean, seed: number, size = 64): Promise<Buffer> {
  const rng = new Rng(seed);
  const raw = Buffer.alloc(size * size * 3);
  const tint = [rng.int(80), rng.int(80), rng.int(80)];
  const shift = rng.int(size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const band = smoking && Math.abs(((x + y + shift) % size) - size / 2) < size / 8;
      for (let c = 0; c < 3; c++) {
        const base = band ? 230 - 20 * c : tint[c] + (x + y) * (c + 1) * 0.5;
        raw[(y * size + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(base + rng.uniform(-12, 12))));
      }
    }
  }
  return sharp(raw, { raw: { width: size, height: size, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

export interface TinySplits {
  /** Images per split folder, half of each class (rounded up for smoking). */
  Training?: number;
  Validation?: number;
  Testing?: number;
}

/**
 * Writes the Kaggle layout (`<split>/<split>/smoking_NNNN.jpg`, `notsmoking_NNNN.jpg`) under `root` and
 * returns the doubled split folders. Default: 24 training and 8 validation images.
 */
export async function writeTinyDataset(
  root: string,
  splits: TinySplits = { Training: 24, Validation: 8 },
  seed = 1,
): Promise<Record<string, string>> {
  const dirs: Record<string, string> = {};
  let k = seed * 100_000;
  for (const [split, count] of Object.entries(splits) as [string, number][]) {
    const dir = join(root, split, split);
    mkdirSync(dir, { recursive: true });
    dirs[split] = dir;
    for (let i = 0; i < count; i++) {
      const smoking = i % 2 === 0;
      const name = `${smoking ? 'smoking' : 'notsmoking'}_${String(i + 1).padStart(4, '0')}.jpg`;
      writeFileSync(join(dir, name), await tinyImage(smoking, k++));
    }
  }
  return dirs;
}

/** A random-initialised ResNet-18 state dict saved as safetensors: `--backbone resnet18 --weights <it>`. */
export async function writeTinyBackbone(path: string, seed = 7): Promise<string> {
  await saveSafetensors(path, randomResNetStateDict(18, seed));
  return path;
}
