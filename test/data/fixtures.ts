export { pngHeaderClaiming } from '../helpers/png-header.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import sharp from 'sharp';

/** A temporary folder removed after the test file. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `bytes` at `root/rel`, creating folders; returns the path. */
export function put(root: string, rel: string, bytes: Buffer | string = ''): string {
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}

/** An RGB image whose pixel (x, y) channel c is px(x, y, c), encoded as PNG (lossless) or JPEG. */
export function encode(
  width: number,
  height: number,
  px: (x: number, y: number, c: number) => number,
  format: 'png' | 'jpeg' = 'png',
): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++)
    raw[i] = px(Math.floor(i / 3) % width, Math.floor(i / 3 / width), i % 3);
  const img = sharp(raw, { raw: { width, height, channels: 3 } });
  return (format === 'png' ? img.png() : img.jpeg({ quality: 90 })).toBuffer();
}
