import { readFile } from 'node:fs/promises';
import { compileKernel, type KernelModule } from './augment-kernel.js';

let compiled: Promise<KernelModule> | undefined;

/** augment-kernel.wasm (built beside this module by `npm run build`), compiled once per process. */
export function augmentKernelModule(): Promise<KernelModule> {
  compiled ??= readFile(new URL('./augment-kernel.wasm', import.meta.url)).then(compileKernel);
  return compiled;
}
