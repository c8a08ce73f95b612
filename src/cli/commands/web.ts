import { Command } from 'commander';
import { writeStaticSite } from '../../serve/static-site.js';

export function webCommand(): Command {
  return new Command('web')
    .description(
      'write the Train view as a static site (page, engine bundle, onnxruntime-web, optional backbone)',
    )
    .requiredOption('--out <folder>', 'where to write the site')
    .option('--backbone <file.onnx>', 'an ONNX backbone to ship with the page')
    .action(async (o) => {
      const files = await writeStaticSite(o.out, { backbone: o.backbone });
      process.stdout.write(
        `wrote ${files.length} files to ${o.out}; serve it with the headers\n` +
          `  Cross-Origin-Opener-Policy: same-origin\n  Cross-Origin-Embedder-Policy: require-corp\n` +
          `(without them the page trains on one thread)\n`,
      );
    });
}
