import { existsSync } from 'node:fs';
import { backboneLabel } from '../export/backbone-label.js';
import { loadOnnxBackbone } from '../models/load-onnx-backbone.js';
import { type BackboneFile, hashFile } from './inference.js';

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
    return { backbone: { path: flag, name: backboneLabel(flag), ...(await hashFile(flag)) } };
  }
  if (/\.onnx$/i.test(runBackbone) && existsSync(runBackbone))
    return {
      backbone: { path: runBackbone, name: backboneLabel(runBackbone), ...(await hashFile(runBackbone)) },
    };
  return {
    reason: `the run's backbone '${backboneLabel(runBackbone)}' is not an ONNX file on this server; start serve with --backbone <file.onnx> to train in the browser`,
  };
}
