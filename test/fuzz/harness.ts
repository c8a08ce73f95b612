/**
 * Runs a fuzz target in a worker thread for a bounded time. Each input must end in a valid result
 * (that passes the target's own check) or an Error whose one-line message (at most 1000 characters)
 * names the input, within a
 * time and peak-RSS bound. The worker posts which input it is on, so an input that hangs is caught by
 * a watchdog here, which ends the worker and reports it; every input is rebuilt from (seed, index).
 */
import { Worker } from 'node:worker_threads';
import { allocData, numel, type Tensor } from '../../src/graph/tensor.js';
import { Rng } from '../../src/random/rng.js';

export interface FuzzTarget {
  /** The name inputs carry, e.g. `fuzz.pth`: every error must start with it. */
  where: string;
  /** A fresh input, mutated from the target's valid files as `rng` decides. */
  generate(rng: Rng): Uint8Array;
  /** Decodes the input, then checks the result is well-formed (throwing an Error with a message otherwise). */
  decode(bytes: Uint8Array, where: string): void;
}

export interface FuzzOptions {
  seed: number;
  /** How long to generate inputs for. */
  ms: number;
  perInputMs: number;
  /** Peak RSS growth allowed while one input runs. */
  perInputMB: number;
  /** An input still running after this long is a hang. */
  hangMs: number;
}

export interface FuzzReport {
  inputs: number;
  valid: number;
  refused: number;
  slowestMs: number;
  /** One line per input that broke the contract: its index, then what it did. */
  failures: string[];
}

/** The generator for input `index` of a run seeded with `seed`. */
export function inputRng(seed: number, index: number): Rng {
  return new Rng((Math.imul(seed, 0x9e3779b1) + index) >>> 0);
}

/** Runs the target module (its default export is a FuzzTarget) and resolves with the report. */
export function runFuzz(targetUrl: string, options: FuzzOptions): Promise<FuzzReport> {
  const progress = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL('./worker.js', import.meta.url), {
    workerData: { targetUrl, options, progress },
    resourceLimits: { maxOldGenerationSizeMb: 1024 },
  });
  return new Promise((resolve, reject) => {
    let last = -1;
    let since = performance.now();
    const watchdog = setInterval(() => {
      const at = Atomics.load(progress, 0);
      if (at !== last) [last, since] = [at, performance.now()];
      else if (performance.now() - since > options.hangMs) {
        clearInterval(watchdog);
        void worker.terminate();
        const hang = `input ${at}: still running after ${options.hangMs} ms (seed ${options.seed})`;
        resolve({ inputs: at + 1, valid: 0, refused: 0, slowestMs: Infinity, failures: [hang] });
      }
    }, 100);
    worker.once('message', (report: FuzzReport) => {
      clearInterval(watchdog);
      resolve(report);
    });
    worker.once('error', (e) => {
      clearInterval(watchdog);
      reject(
        new Error(
          `fuzz worker died at input ${Atomics.load(progress, 0)} (seed ${options.seed}): ${e.message}`,
        ),
      );
    });
  });
}

/** Throws (with no `where`, so it counts as a failure) unless the tensor's data fits its shape and dtype. */
export function checkTensor(name: string, t: Tensor): void {
  const n = numel(t.shape);
  const ok =
    t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) &&
    t.data instanceof allocData(t.dtype, 0).constructor &&
    t.data.length === n;
  if (!ok)
    throw new Error(`invalid result: tensor '${name}' ${t.dtype} [${t.shape}] has ${t.data.length} elements`);
}
