import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { Command } from 'commander';
import { explainImage } from '../../eval/explain-image.js';
import { loadGradCam } from '../../run/saved-model.js';
import { heatmapPng, overlayPng } from '../../report/heatmap.js';
import { writeFileAtomic } from '../../weights/atomic-write.js';
import { parse } from '../parse.js';

export function explainCommand(): Command {
  return new Command('explain')
    .description('show where the model looks: a Grad-CAM heat map of the smoking score over the image')
    .argument('<image>', 'an image file')
    .requiredOption('--model <run folder>', "a folder written by 'smoker-lora train'")
    .requiredOption('-o, --output <file.png>', 'where to write the PNG')
    .option('--alpha <a>', 'heat map opacity over the image', parse.number(0, 1), 0.5)
    .option('--map-only', 'write the colour-mapped heat map alone, at the model input size')
    .option('--threads <n>', 'ONNX Runtime threads', parse.int(1), availableParallelism())
    .action(async (image: string, o) => {
      const t0 = performance.now();
      const cam = await loadGradCam(o.model, { threads: o.threads });
      try {
        const t1 = performance.now();
        const e = await explainImage(cam, image);
        const t2 = performance.now();
        const png = o.mapOnly ? await heatmapPng(e) : await overlayPng(image, e, o.alpha);
        await writeFileAtomic(o.output, png);
        const out = (line: string) => process.stdout.write(line + '\n');
        out(`${relative(process.cwd(), image) || image}  ${e.label}`);
        out(
          cam.classes.length === 2
            ? `P(${cam.classes[1]}) = ${e.probability.toFixed(4)} (threshold ${e.threshold})`
            : `P(${e.label}) = ${e.probability.toFixed(4)} (the most probable of ${cam.classes.length} classes)`,
        );
        out(
          `wrote ${o.output} (${o.mapOnly ? `heat map, ${e.size[1]}x${e.size[0]}` : `overlay, alpha ${o.alpha}`}); ` +
            `load ${(t1 - t0).toFixed(0)} ms, explain ${(t2 - t1).toFixed(0)} ms`,
        );
      } finally {
        await cam.release();
      }
    });
}
