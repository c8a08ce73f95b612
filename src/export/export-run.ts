import { readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { createRunFolder } from '../run/run-folder.js';
import { modelCard } from './model-card.js';
import { exportOnnxFp16 } from './onnx-fp16.js';
import { exportOnnxInt8 } from './onnx-int8.js';
import type { ExportOptions, Exporter } from './options.js';
import { exportPeft } from './peft.js';
import { readExportSource } from './source.js';
import { exportTransformersJs } from './transformers-js.js';
import { exportTriton } from './triton.js';
import { writeExportFile } from './write-file.js';

const EXPORTERS = {
  'onnx-fp16': exportOnnxFp16,
  'onnx-int8': exportOnnxInt8,
  'transformers.js': exportTransformersJs,
  triton: exportTriton,
  peft: exportPeft,
} satisfies Record<string, Exporter>;

export type ExportFormat = keyof typeof EXPORTERS;
export const EXPORT_FORMATS = Object.keys(EXPORTERS) as ExportFormat[];
export const CARD_FILE = 'README.md';

/**
 * Exports a finished run folder into `o.out` (new or empty) in one format, with a model card
 * (README.md) beside the files. A run the format cannot hold is a one-line error naming the run, the
 * format and why. Returns the written files, relative to `o.out`.
 */
export async function exportRun(model: string, format: ExportFormat, o: ExportOptions): Promise<string[]> {
  const exporter: Exporter | undefined = Object.hasOwn(EXPORTERS, format) ? EXPORTERS[format] : undefined;
  if (!exporter) throw new Error(`--format ${format}: not one of ${EXPORT_FORMATS.join(', ')}`);
  const [out, run] = [resolve(o.out), resolve(model)];
  if (out === run || out.startsWith(run + sep))
    throw new Error(`--out ${o.out}: is inside the run folder ${model}; choose a folder outside it`);
  const stat = statSync(out, { throwIfNoEntry: false });
  if (stat && (!stat.isDirectory() || readdirSync(out).length > 0))
    throw new Error(
      `--out ${o.out}: ${stat.isDirectory() ? 'is not empty' : 'is a file'}; choose a new or empty folder, so nothing is overwritten`,
    );
  const src = await readExportSource(model);
  await createRunFolder(o.out);
  let files: string[];
  try {
    files = await exporter(src, o);
  } catch (e) {
    // Nothing half-written is left behind: a folder made here goes, an empty one given is emptied again.
    if (stat) for (const f of readdirSync(out)) rmSync(join(out, f), { recursive: true, force: true });
    else rmSync(out, { recursive: true, force: true });
    throw new Error(`cannot export ${model} as ${format}: ${(e as Error).message}`);
  }
  return [...files, await writeExportFile(o.out, CARD_FILE, modelCard(src, format, files))];
}
