import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { loadOnnxBackbone } from '../models/load-onnx-backbone.js';
import { type BackboneFile, hashFile } from './inference.js';

/** A backbone as the API names it: 'resnet34', or an ONNX file's folder and name, never its full path. */
export function backboneName(backbone: string): string {
  return /\.onnx$/i.test(backbone)
    ? `${basename(dirname(backbone))}/${basename(backbone)}`
    : basename(backbone);
}

/**
 * The ONNX backbone the page may fine-tune: `--backbone` (checked to load as a backbone, so a bad file
 * stops the server with its reason), else the run's own when it is an ONNX file still on this machine.
 * Otherwise the reason there is none, for GET /v1/backbone.onnx's 404.
 */
export async function findTrainBackbone(
  flag: string | undefined,
  runBackbone: string,
): Promise<{ backbone?: BackboneFile; reason?: string }> {
  if (flag) {
    await loadOnnxBackbone(flag).catch((e: Error) => {
      throw new Error(`--backbone ${e.message}`);
    });
    return { backbone: { path: flag, name: backboneName(flag), ...(await hashFile(flag)) } };
  }
  if (/\.onnx$/i.test(runBackbone) && existsSync(runBackbone))
    return {
      backbone: { path: runBackbone, name: backboneName(runBackbone), ...(await hashFile(runBackbone)) },
    };
  return {
    reason: `the run's backbone '${backboneName(runBackbone)}' is not an ONNX file on this server; start serve with --backbone <file.onnx> to train in the browser`,
  };
}
