import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { TrainProgress } from '../../src/train/checkpoint.js';
import { loadSafetensors } from '../../src/weights/safetensors-file.js';
import { tempDir, writeTinyBackbone, writeTinyDataset } from '../helpers/tiny-dataset.js';

/** The built CLI (tests run from dist/test/cli). */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  /** Run under `ulimit -f <kib>`: writes past that many KiB fail with EFBIG, as on a full disk. */
  fileSizeLimitKiB?: number;
  /** Called with every stdout line as it arrives, and the child, e.g. to send it SIGINT. */
  onLine?: (line: string, child: ReturnType<typeof spawn>) => void;
}

/** Runs `node dist/src/cli/main.js ...args` as a real process (stdout is a pipe, not a TTY). */
export function runCli(args: string[], o: RunOptions = {}): Promise<CliResult> {
  const [cmd, argv] =
    o.fileSizeLimitKiB === undefined
      ? [process.execPath, [CLI, ...args]]
      : ['bash', ['-c', `ulimit -f ${o.fileSizeLimitKiB} && exec "$0" "$@"`, process.execPath, CLI, ...args]];
  const child = spawn(cmd, argv, {
    cwd: o.cwd,
    env: { ...process.env, SMOKER_LORA_DEBUG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    partial += s;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) o.onLine?.(line, child);
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export interface Fixture {
  /** Temp folder removed after the test file. */
  root: string;
  /** Kaggle layout: Training/Training (24), Validation/Validation (8), Testing/Testing (8). */
  data: string;
  /** A random ResNet-18 state dict, for `--backbone resnet18 --weights`. */
  weights: string;
}

let fixture: Promise<Fixture> | undefined;
let cleanup: (() => void) | undefined;
// Registered at load, on the file's root: an `after` called inside a test would run after that test.
after(() => cleanup?.());

/** The tiny data set and backbone, made once per test file and removed after it. */
export function tinyFixture(): Promise<Fixture> {
  fixture ??= (async () => {
    const root = tempDir('smoker-cli-', (fn) => (cleanup = fn));
    const data = join(root, 'data');
    await writeTinyDataset(data, { Training: 24, Validation: 8, Testing: 8 });
    const weights = await writeTinyBackbone(join(root, 'resnet18-random.safetensors'));
    return { root, data, weights };
  })();
  return fixture;
}

/**
 * `train` arguments for the tiny set: ResNet-18 at 224x224, batch 8 (3 steps an epoch), fixed threads
 * (another thread count may change the last bits of ORT's sums).
 */
export function trainArgs(f: Fixture, out: string, extra: string[] = []): string[] {
  return [
    'train',
    ...['--data', f.data, '--backbone', 'resnet18', '--weights', f.weights, '--out', out],
    ...['--epochs', '2', '--batch', '8', '--threads', '2', '--seed', '1'],
    ...extra,
  ];
}

export const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));

/** history.json without its wall-clock fields (seconds, dataWait), which no two runs share. */
export function historyNumbers(runDir: string): Record<string, number>[] {
  return (readJson(join(runDir, 'history.json')) as Record<string, number>[]).map(
    ({ seconds: _s, dataWait: _w, ...rest }) => rest,
  );
}

/** Reads a safetensors file (a saved adapter or checkpoint): its tensor names and whether every value is finite. */
export async function readSaved(path: string): Promise<{ names: string[]; finite: boolean }> {
  const { tensors } = await loadSafetensors(path);
  return {
    names: [...tensors.keys()].sort(),
    finite: [...tensors.values()].every((t) => (t.data as Float32Array).every(Number.isFinite)),
  };
}

/** A checkpoint's progress record and trainables as saved, read without checking them against a model. */
export async function readCheckpoint(
  path: string,
): Promise<{ progress: TrainProgress; params: Map<string, Float32Array> }> {
  const { tensors, metadata } = await loadSafetensors(path);
  const params = new Map<string, Float32Array>();
  for (const [k, t] of tensors) if (k.startsWith('param/')) params.set(k.slice(6), t.data as Float32Array);
  return { progress: JSON.parse(metadata.progress) as TrainProgress, params };
}

/** One line on stderr, exit code 1, matching `message`. */
export function oneLineError(r: CliResult, message: RegExp): void {
  assert.equal(r.code, 1, `exit code ${r.code}\n${r.stdout}\n${r.stderr}`);
  const lines = linesOf(r.stderr);
  assert.equal(lines.length, 1, `one stderr line, got:\n${r.stderr}`);
  assert.match(lines[0], message);
}

/** The lines of a stream's text, without the final newline's empty string. */
export const linesOf = (s: string): string[] =>
  s.split('\n').filter((l, i, a) => l !== '' || i < a.length - 1);
