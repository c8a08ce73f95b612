import { readFile } from 'node:fs/promises';
import type { Backbone } from './backbone.js';
import { onnxBackbone, type OnnxBackboneOptions } from './onnx-backbone.js';

/** An ONNX CNN file as a frozen backbone (see onnxBackbone). */
export async function loadOnnxBackbone(path: string, opts: OnnxBackboneOptions = {}): Promise<Backbone> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return onnxBackbone(bytes, path, opts);
}
