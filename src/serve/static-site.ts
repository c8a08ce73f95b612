import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadOnnxBackbone } from '../models/load-onnx-backbone.js';
import { bundleRoot, isBundleFile, ORT_WEB_FILES, ortWebRoot, webRoot } from './app.js';
import { backboneLabel } from '../export/backbone-label.js';

/** The page files the Train view needs; the server's own page (app.js) needs the API and stays out. */
const TRAIN_PAGE = ['train.html', 'train.js', 'style.css'];

/**
 * The Train view as files for any static host: index.html (the view), its script and style, the
 * engine bundle in lib/, onnxruntime-web in ort/, and optionally a backbone (backbone.onnx with
 * backbone.json naming it, as GET /v1/backbone.onnx would). Returns the files written, relative to `out`.
 */
export async function writeStaticSite(out: string, opts: { backbone?: string } = {}): Promise<string[]> {
  if (opts.backbone)
    await loadOnnxBackbone(opts.backbone).catch((e: Error) => {
      throw new Error(`--backbone ${e.message}`);
    });
  const bundle = await readdir(bundleRoot()).catch(() => {
    throw new Error(`${bundleRoot()}: no browser bundle; run 'npm run build' first`);
  });
  await mkdir(join(out, 'lib'), { recursive: true });
  await mkdir(join(out, 'ort'), { recursive: true });
  const written: string[] = [];
  const put = async (from: string, to: string) => {
    await copyFile(from, join(out, to));
    written.push(to);
  };
  for (const f of TRAIN_PAGE) await put(join(webRoot(), f), f);
  await put(join(webRoot(), 'train.html'), 'index.html');
  for (const f of bundle.filter(isBundleFile)) await put(join(bundleRoot(), f), `lib/${f}`);
  await put(fileURLToPath(new URL('../classify/classify.js', import.meta.url)), 'lib/classify.js');
  for (const f of ORT_WEB_FILES) await put(join(ortWebRoot(), f), `ort/${f}`);
  if (opts.backbone) {
    await put(opts.backbone, 'backbone.onnx');
    await writeFile(
      join(out, 'backbone.json'),
      JSON.stringify({ name: backboneLabel(opts.backbone) }) + '\n',
    );
    written.push('backbone.json');
  }
  return written;
}
