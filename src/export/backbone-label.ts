import { basename, dirname } from 'node:path';

/** A backbone as an exported file names it: 'resnet34', or an ONNX file's folder and name, never its full path. */
export function backboneLabel(backbone: string): string {
  return /\.onnx$/i.test(backbone)
    ? `${basename(dirname(backbone))}/${basename(backbone)}`
    : basename(backbone);
}
