/**
 * Bundles the browser's modules (src/browser/*) with esbuild into dist/web/lib/, run by `npm run build`
 * after tsc. onnxruntime-node becomes onnxruntime-web (the single-file WebAssembly build that the server
 * serves at /ort/), left outside the bundle so that the page and the worker share one copy. The bundle
 * is built for the browser platform, so a module that reaches for node:fs or sharp fails the build. The
 * augmentation kernel's .wasm is copied beside the bundle.
 */
import { copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Both ORT packages resolve to the served ORT-web file, relative to the bundle (lib/ beside ort/). */
const ortWeb: Plugin = {
  name: 'ort-web',
  setup(b) {
    b.onResolve({ filter: /^onnxruntime-(node|web)$/ }, () => ({
      path: '../ort/ort.wasm.min.mjs',
      external: true,
    }));
  },
};

await build({
  entryPoints: ['engine', 'train-worker', 'pixels', 'folders'].map((e) =>
    join(repo, 'src/browser', `${e}.ts`),
  ),
  outdir: join(repo, 'dist/web/lib'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  minify: false,
  logLevel: 'warning',
  plugins: [ortWeb],
});

// The train worker fetches the augmentation kernel from beside itself (npm run build:kernel made it).
copyFileSync(join(repo, 'dist/src/data/augment-kernel.wasm'), join(repo, 'dist/web/lib/augment-kernel.wasm'));
