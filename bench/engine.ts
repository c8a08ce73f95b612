/**
 * Engine benchmark: inference and LoRA train-step throughput at batch 32 on 2 threads, with peak RSS.
 * Each case runs in its own child process so its peak RSS is its own. Prints a Markdown table of medians.
 * With `--peer pytorch`, bench/torch_peer.py runs the same cases, the engines taking turns for `--rounds`.
 * Beside the table: ORT's MatMul speed and the CPU's float32 FMA peak (bench/fma-peak.c), the ceiling of both.
 *   node dist/bench/engine.js [--iters 5] [--batch 32] [--threads 2] [--peer pytorch] [--rounds 2]
 *   node dist/bench/engine.js --case <name> [--profile]
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { f32 } from '../src/graph/tensor.js';
import type { Backbone } from '../src/models/backbone.js';
import { loadOnnxBackbone } from '../src/models/load-onnx-backbone.js';
import { buildResNet, randomResNetStateDict } from '../src/models/resnet.js';

import { defaultTargets } from '../src/lora/default-targets.js';
import { addLora } from '../src/lora/lora-model.js';
import { mergeLora } from '../src/lora/merge.js';
import { Rng } from '../src/random/rng.js';
import { Session } from '../src/runtime/session.js';
import { AdamW } from '../src/train/optim/adamw.js';
import { TrainStep } from '../src/train/train-step.js';
import { fmaPeakGflops, matmulGflops, median } from './machine.js';
import { latestProfile } from '../src/runtime/profile-file.js';
import { summarizeProfile } from './ort-profile.js';
import { PYTHON, runTorchPeer, TORCH_INSTALL, torchVersion } from './peer.js';

const { values } = parseArgs({
  options: {
    iters: { type: 'string', default: '5' },
    batch: { type: 'string', default: '32' },
    threads: { type: 'string', default: '2' },
    case: { type: 'string' },
    profile: { type: 'boolean', default: false },
    peer: { type: 'string' },
    rounds: { type: 'string' },
    shared: { type: 'string', default: join(fileURLToPath(import.meta.url), '../../../../shared') },
  },
});
const iters = Number(values.iters);
const batch = Number(values.batch);
const threads = Number(values.threads);
const mobilenetPath = join(values.shared!, 'models/mobilenet_v2_1.0_224/model.onnx');

const CASES = [
  'resnet34 inference',
  'resnet34 lora-train',
  'mobilenet_v2 inference',
  'mobilenet_v2 lora-train',
];

async function backbone(name: string): Promise<Backbone> {
  if (name === 'resnet34') return buildResNet(34, randomResNetStateDict(34, 0));
  return loadOnnxBackbone(mobilenetPath);
}

/** Runs one case in this process and prints one JSON line. */
async function runCase(name: string): Promise<void> {
  const [model, kind] = name.split(' ');
  const bb = await backbone(model);
  const lora = addLora(bb, { r: 8, alpha: 16, targets: defaultTargets(bb) }, { seed: 0 });
  const [h, w] = bb.preprocess.size;
  const input = f32([batch, 3, h, w], new Rng(1).uniformArray(batch * 3 * h * w, -2, 2));
  const labels = Array.from({ length: batch }, (_, i) => i % 2);
  let once: () => Promise<void>;
  let after = () => {};
  if (kind === 'inference') {
    const session = await Session.create(mergeLora(lora), { threads });
    once = async () => void (await session.run({ input }, ['logits']));
  } else {
    const profilePrefix = join(tmpdir(), 'smoker-lora-train');
    const step = await TrainStep.compile(lora, { threads, ...(values.profile ? { profilePrefix } : {}) });
    if (values.profile)
      after = () => {
        step.endProfiling();
        console.error(summarizeProfile(latestProfile(profilePrefix), iters + 1));
      };
    const opt = new AdamW({ weightDecay: 1e-4 });
    once = async () => {
      await step.run(input, labels);
      opt.step(step.params, 1e-4);
    };
  }
  await once();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await once();
    times.push((performance.now() - t0) / 1000);
  }
  after();
  const imgs = times.map((t) => batch / t);
  console.log(
    JSON.stringify({ name, imgs, rssMiB: process.resourceUsage().maxRSS / 1024 } satisfies CaseResult),
  );
}

/** One case's run in one engine: img/s of each timed iteration and the process's peak RSS. */
interface CaseResult {
  name: string;
  imgs: number[];
  rssMiB: number;
}

function runOurs(name: string): CaseResult {
  const args = [
    '--case',
    name,
    '--iters',
    String(iters),
    '--batch',
    String(batch),
    '--threads',
    String(threads),
  ];
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), ...args], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

function runTorch(name: string): CaseResult {
  const args = ['--iters', String(iters), '--batch', String(batch), '--threads', String(threads)];
  return runTorchPeer(['case', name, '--mobilenet', mobilenetPath, ...args]) as CaseResult;
}

/** Median over every timed iteration of every round, the range of the rounds' medians, the largest RSS. */
function summarize(runs: CaseResult[]) {
  const medians = runs.map((r) => median(r.imgs));
  return {
    median: median(runs.flatMap((r) => r.imgs)),
    rounds: medians.map((m) => m.toFixed(2)).join(', '),
    rssMiB: Math.max(...runs.map((r) => r.rssMiB)).toFixed(0),
  };
}

async function main(): Promise<void> {
  if (values.case) return runCase(values.case);
  if (values.peer !== undefined && values.peer !== 'pytorch')
    throw new Error(`--peer: the only peer is 'pytorch', got '${values.peer}'`);
  const torch = values.peer ? torchVersion() : undefined;
  if (values.peer && !torch)
    console.error(
      `--peer pytorch: ${PYTHON} cannot import torch, torchvision and onnx (${TORCH_INSTALL}); ours alone`,
    );
  const rounds = Number(values.rounds ?? (torch ? 2 : 1));
  const gflops = await matmulGflops(threads);
  const peak = fmaPeakGflops(threads);
  const rows: string[] = [];
  for (const name of CASES) {
    if (name.startsWith('mobilenet') && !existsSync(mobilenetPath)) {
      rows.push(`| ${name} | skipped: ${mobilenetPath} not found |`);
      continue;
    }
    const ours: CaseResult[] = [];
    const peer: CaseResult[] = [];
    for (let r = 0; r < rounds; r++) {
      ours.push(runOurs(name));
      if (torch) peer.push(runTorch(name));
    }
    const o = summarize(ours);
    let row = `| ${name} | ${o.median.toFixed(2)} | ${o.rounds} | ${o.rssMiB} |`;
    if (torch) {
      const t = summarize(peer);
      row += ` ${t.median.toFixed(2)} | ${t.rounds} | ${t.rssMiB} | ${(o.median / t.median).toFixed(2)}x |`;
    }
    rows.push(row);
    console.error(row);
  }
  console.log(
    `batch ${batch}, ${threads} threads, ${rounds} round(s) of one warm-up and ${iters} timed iterations`,
  );
  const fma = peak
    ? `float32 FMA peak ${peak.toFixed(0)} GFLOP/s`
    : 'FMA peak not measured (cc could not build or run bench/fma-peak.c)';
  console.log(
    `machine: ORT MatMul 2048x2048 at ${gflops.toFixed(0)} GFLOP/s on ${threads} threads; ${fma}\n`,
  );
  const cols = ['case', 'img/s (median)', 'round medians', 'peak RSS MiB'];
  if (torch) cols.push(`PyTorch ${torch} img/s`, 'round medians', 'peak RSS MiB', 'ratio');
  console.log(`| ${cols.join(' | ')} |\n|${cols.map(() => '---|').join('')}`);
  console.log(rows.join('\n'));
}

await main();
