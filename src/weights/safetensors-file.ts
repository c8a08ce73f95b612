import { readFile } from 'node:fs/promises';
import type { Tensor } from '../graph/tensor.js';
import { writeFileAtomic } from './atomic-write.js';
import { readSafetensors, type Safetensors, writeSafetensors } from './safetensors.js';

/** Reads and validates a safetensors file (the format itself, without files, is in safetensors.ts). */
export async function loadSafetensors(path: string): Promise<Safetensors> {
  return readSafetensors(await readFile(path), path);
}

/** Writes a safetensors file atomically: a crash or full disk never leaves a partial file at `path`. */
export async function saveSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, writeSafetensors(tensors, metadata));
}
