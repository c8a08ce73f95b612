/**
 * The seed recipe end to end on MobileNetV2: our `train` command against bench/torch_peer.py's PyTorch run of
 * the same recipe with its own data loading (torchvision transforms in a DataLoader), one after the other.
 * Prints each epoch's seconds (training plus validation), their median and the wall time of the whole run.
 * PyTorch's DataLoader gets `--torch-workers` worker processes (default 1); ours has none to set (each
 * batch is augmented between steps on this thread and one worker per further ORT thread: AugmentPool).
 *   node dist/bench/recipe.js [--epochs 2] [--threads 2] [--torch-workers 1] [--data <root>]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { EpochRecord } from '../src/train/history.js';
import { median } from './machine.js';
import { PYTHON, runTorchPeer, TORCH_INSTALL, torchVersion } from './peer.js';

const shared = join(fileURLToPath(import.meta.url), '../../../../shared');
const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    'torch-workers': { type: 'string', default: '1' },
    data: { type: 'string', default: join(shared, 'data/smoking') },
    mobilenet: { type: 'string', default: join(shared, 'models/mobilenet_v2_1.0_224/model.onnx') },
  },
});
const common = ['--epochs', values.epochs!, '--threads', values.threads!];

interface RecipeRun {
  epochs: { seconds: number; valAcc: number | null }[];
  wallS: number;
  /** Peak RSS of the training process; undefined off Linux. */
  rssMiB?: number;
}

/** A process's peak RSS so far (Linux's VmHWM), or undefined where /proc does not say. */
function peakRssMiB(pid: number): number | undefined {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

async function ours(): Promise<RecipeRun> {
  const out = mkdtempSync(join(tmpdir(), 'smoker-lora-recipe-'));
  try {
    const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
    const t0 = performance.now();
    const child = spawn(
      process.execPath,
      [cli, 'train', '--data', values.data!, '--out', out, '--backbone', values.mobilenet!, ...common],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    let rssMiB: number | undefined;
    const poll = setInterval(() => (rssMiB = peakRssMiB(child.pid!) ?? rssMiB), 250);
    const [code] = await once(child, 'exit');
    clearInterval(poll);
    if (code !== 0) throw new Error(`train exited with code ${code}`);
    const wallS = (performance.now() - t0) / 1000;
    const history = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8')) as EpochRecord[];
    return { epochs: history, wallS, rssMiB };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function row(engine: string, r: RecipeRun, ref?: RecipeRun): string {
  const secs = r.epochs.map((e) => e.seconds);
  const ratio = ref ? `${(median(ref.epochs.map((e) => e.seconds)) / median(secs)).toFixed(2)}x` : '';
  const acc = r.epochs.map((e) => (e.valAcc === null ? '-' : (100 * e.valAcc).toFixed(1))).join(', ');
  const rss = r.rssMiB === undefined ? '' : r.rssMiB.toFixed(0);
  return `| ${engine} | ${secs.map((s) => s.toFixed(1)).join(', ')} | ${median(secs).toFixed(1)} | ${r.wallS.toFixed(0)} | ${acc} | ${rss} | ${ratio} |`;
}

const torch = torchVersion();
if (!torch)
  console.error(`${PYTHON} cannot import torch, torchvision and onnx (${TORCH_INSTALL}); ours alone`);
const mine = await ours();
const peer = torch
  ? (runTorchPeer([
      'recipe',
      '--data',
      values.data!,
      '--mobilenet',
      values.mobilenet!,
      ...common,
      ...['--num-workers', values['torch-workers']!],
    ]) as RecipeRun)
  : undefined;
console.log(
  `MobileNetV2, seed recipe, ${values.epochs} epochs, ${values.threads} threads, ${values['torch-workers']} DataLoader worker(s) for PyTorch\n`,
);
console.log(
  '| engine | seconds per epoch | median | wall s | val acc % | peak RSS MiB | speed-up |\n|---|---|---|---|---|---|---|',
);
console.log(row('smoker-lora', mine, peer));
if (peer) console.log(row(`PyTorch ${torch}`, peer));
