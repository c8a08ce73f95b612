/**
 * Whether Winograd F(2x2, 3x3) written as ONNX ops beats ORT's direct 3x3 convolution on ResNet34's
 * four stages (batch 32, 2 threads): it needs 2.25x fewer multiplies, which is the only way past the
 * cores' FMA peak that ResNet34 already runs near. Each stage's conv is timed as ORT's kernels (its
 * profiler, summed per run, so session overhead is left out) in two forms that trade the batched
 * MatMul's shape against the layout changes around it, and checked against the direct conv's output.
 *   node dist/bench/winograd.js [--threads 2] [--runs 15]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { attr, Graph } from '../src/graph/ir.js';
import { f32, i64, type Tensor } from '../src/graph/tensor.js';
import { Rng } from '../src/random/rng.js';
import { latestProfile } from '../src/runtime/profile-file.js';
import { Session } from '../src/runtime/session.js';
import { fmaPeakGflops, matmulGflops, median } from './machine.js';
import { kernelEvents, type KernelEvent } from './ort-profile.js';

const { values } = parseArgs({
  options: { threads: { type: 'string', default: '2' }, runs: { type: 'string', default: '15' } },
});
const [threads, runs, batch] = [Number(values.threads), Number(values.runs), 32];

// F(2x2, 3x3) (Lavin and Gray, 2016): Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A over 4x4 input tiles at stride 2.
const BT = [
  [1, 0, -1, 0],
  [0, 1, 1, 0],
  [0, -1, 1, 0],
  [0, 1, 0, -1],
];
const GM = [
  [1, 0, 0],
  [0.5, 0.5, 0.5],
  [0.5, -0.5, 0.5],
  [0, 0, 1],
];
const AT = [
  [1, 1, 1, 0],
  [0, 1, -1, -1],
];

/** The 16 input-transform kernels, [16, 4, 4]: kernel (u,v) at (i,j) is Bᵀ[u][i]·Bᵀ[v][j]. */
const inputKernels = Array.from({ length: 16 }, (_, uv) =>
  Array.from({ length: 16 }, (_, ij) => BT[uv >> 2][ij >> 2] * BT[uv & 3][ij & 3]),
);

/** U[(u,v), k, c] = (G w[k,c] Gᵀ)[u][v] for a [K, C, 3, 3] weight. */
function transformedWeight(w: Float32Array, k: number, c: number): Float32Array {
  const u = new Float32Array(16 * k * c);
  for (let o = 0; o < k; o++)
    for (let i = 0; i < c; i++) {
      const g = w.subarray((o * c + i) * 9, (o * c + i) * 9 + 9);
      for (let a = 0; a < 4; a++)
        for (let b = 0; b < 4; b++) {
          let s = 0;
          for (let p = 0; p < 3; p++) for (let q = 0; q < 3; q++) s += GM[a][p] * g[p * 3 + q] * GM[b][q];
          u[((a * 4 + b) * k + o) * c + i] = s;
        }
    }
  return u;
}

/** Aᵀ ⊗ Aᵀ as [4, 16]: output (a,b) of a tile from its 16 products. */
const outputTransform = f32(
  [4, 16],
  Array.from({ length: 64 }, (_, i) => {
    const [ab, uv] = [i >> 4, i & 15];
    return AT[ab >> 1][uv >> 2] * AT[ab & 1][uv & 3];
  }),
);

interface Stage {
  name: string;
  c: number;
  h: number;
}
/** ResNet34's stride-1 3x3 convs: 6 in layer1, 7 in layer2, 11 in layer3, 5 in layer4. */
const STAGES: Stage[] = [
  { name: 'layer1', c: 64, h: 56 },
  { name: 'layer2', c: 128, h: 28 },
  { name: 'layer3', c: 256, h: 14 },
  { name: 'layer4', c: 512, h: 7 },
];

function imageGraph(s: Stage): Graph {
  const g = new Graph();
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [batch, s.c, s.h, s.h] });
  return g;
}

function direct(s: Stage, w: Tensor<'float32'>): Graph {
  const g = imageGraph(s);
  g.add('Conv', ['x', g.constant(w, 'w')], { outputs: ['y'], attrs: { pads: attr.ints([1, 1, 1, 1]) } });
  g.outputs = [{ name: 'y', dtype: 'float32', shape: [batch, s.c, s.h, s.h] }];
  return g;
}

/**
 * The tiles' transform as a depthwise conv (16 kernels per channel, stride 2), then one of two layouts:
 * `rows` (GEMM-shaped): 16 GEMMs of [tiles, C] x [C, K], MatMul's best shape, after moving C innermost;
 * `images` (images outer): per image 16 GEMMs of [K, C] x [C, tiles], with no transpose but small GEMMs.
 */
function winograd(s: Stage, w: Tensor<'float32'>, form: 'rows' | 'images'): Graph {
  const g = imageGraph(s);
  const { c, h } = s;
  const t = Math.ceil(h / 2);
  const tiles = t * t;
  const far = 2 * t + 1 - h; // the bottom and right padding that makes t whole tiles
  const kernels = f32([16 * c, 1, 4, 4], Array.from({ length: c }, () => inputKernels.flat()).flat());
  const v = g.op('Conv', ['x', g.constant(kernels, 'bt')], {
    group: attr.int(c),
    strides: attr.ints([2, 2]),
    pads: attr.ints([1, 1, far, far]),
  }); // [N, C*16, t, t]
  const u = transformedWeight(w.data, c, c);
  const shape = (dims: number[]) => g.constant(i64([dims.length], dims), 'shape');
  let out: string;
  if (form === 'rows') {
    const rows = g.op('Reshape', [
      g.op('Transpose', [g.op('Reshape', [v, shape([batch, c, 16, tiles])])], {
        perm: attr.ints([2, 0, 3, 1]),
      }),
      shape([16, batch * tiles, c]),
    ]);
    // U as [16, C, K]: the products are [16, N*tiles, K].
    const uck = new Float32Array(u.length);
    for (let uv = 0; uv < 16; uv++)
      for (let o = 0; o < c; o++)
        for (let i = 0; i < c; i++) uck[(uv * c + i) * c + o] = u[(uv * c + o) * c + i];
    const products = g.op('MatMul', [rows, g.constant(f32([16, c, c], uck), 'u')]);
    const y = g.op('MatMul', [
      g.constant(outputTransform, 'at'),
      g.op('Reshape', [products, shape([16, -1])]),
    ]); // [4, N*tiles*K] = [2, 2, N, t, t, K]
    out = g.op('Reshape', [
      g.op('Transpose', [g.op('Reshape', [y, shape([2, 2, batch, t, t, c])])], {
        perm: attr.ints([2, 5, 3, 0, 4, 1]),
      }),
      shape([batch, c, 2 * t, 2 * t]),
    ]);
  } else {
    const perImage = g.op('Transpose', [g.op('Reshape', [v, shape([batch, c, 16, tiles])])], {
      perm: attr.ints([0, 2, 1, 3]),
    }); // [N, 16, C, tiles]
    const products = g.op('MatMul', [g.constant(f32([1, 16, c, c], u), 'u'), perImage]); // [N, 16, K, tiles]
    const y = g.op('MatMul', [
      g.constant(outputTransform, 'at'),
      g.op('Reshape', [products, shape([batch, 16, -1])]),
    ]); // [N, 4, K*tiles], i.e. [N, (a,b), K, t, t]
    out = g.op('DepthToSpace', [g.op('Reshape', [y, shape([batch, 4 * c, t, t])])], {
      blocksize: attr.int(2),
      mode: attr.string('DCR'),
    });
  }
  const cropped = 2 * t === h ? out : g.op('Slice', [out, shape([0, 0]), shape([h, h]), shape([2, 3])]);
  g.add('Identity', [cropped], { outputs: ['y'] });
  g.outputs = [{ name: 'y', dtype: 'float32', shape: [batch, c, h, h] }];
  return g;
}

interface Timed {
  /** Median kernel time of a run, ms. */
  total: number;
  /** Median time of the batched products (the MatMul over U), ms. */
  gemm: number;
  y: Float32Array;
}

/** Runs the graphs in turn, `runs` times after 2 warm-ups each, and reads their kernel times back. */
async function timeInTurn(graphs: Graph[], x: Tensor<'float32'>, dir: string): Promise<Timed[]> {
  const prefixes = graphs.map((_, i) => join(dir, `case${cases++}-${i}`));
  const sessions = await Promise.all(
    graphs.map((g, i) => Session.create(g, { threads, stopSpinning: true, profilePrefix: prefixes[i] })),
  );
  const ys: Float32Array[] = [];
  for (let r = 0; r < runs + 2; r++)
    for (const [i, session] of sessions.entries()) ys[i] = (await session.run({ x })).y.data as Float32Array;
  return Promise.all(
    sessions.map(async (session, i) => {
      session.endProfiling();
      await session.release();
      const kernels = kernelEvents(latestProfile(prefixes[i]));
      // ORT logs one event per node per run, in order; the first two runs are the warm-ups.
      const perRun = kernels.length / (runs + 2);
      const each = Array.from({ length: runs }, (_, r) => kernels.slice((r + 2) * perRun, (r + 3) * perRun));
      const ms = (es: KernelEvent[]) => es.reduce((a, e) => a + e.dur, 0) / 1000;
      // The products' MatMul is the costlier of the two (the output transform's is 16 -> 4).
      const gemm = (es: KernelEvent[]) =>
        Math.max(0, ...es.filter((e) => e.args?.op_name === 'MatMul').map((e) => e.dur)) / 1000;
      return { total: median(each.map(ms)), gemm: median(each.map(gemm)), y: ys[i] };
    }),
  );
}

let cases = 0;
const dir = mkdtempSync(join(tmpdir(), 'winograd-'));
const rows: string[] = [];
try {
  for (const s of STAGES) {
    const rng = new Rng(7);
    const w = f32([s.c, s.c, 3, 3], rng.uniformArray(s.c * s.c * 9, -0.05, 0.05));
    const x = f32([batch, s.c, s.h, s.h], rng.uniformArray(batch * s.c * s.h * s.h, -1, 1));
    const [d, ...forms] = await timeInTurn(
      [direct(s, w), winograd(s, w, 'rows'), winograd(s, w, 'images')],
      x,
      dir,
    );
    const gflop = (2 * batch * s.c * s.c * 9 * s.h * s.h) / 1e9;
    const cells = [
      `${s.name}: ${s.c}->${s.c}, ${s.h}x${s.h}`,
      `${d.total.toFixed(1)} (${((gflop / d.total) * 1000).toFixed(0)} GFLOP/s)`,
    ];
    for (const r of forms) {
      let err = 0;
      for (let i = 0; i < d.y.length; i++) err = Math.max(err, Math.abs(d.y[i] - r.y[i]));
      cells.push(
        `${r.total.toFixed(1)} (${r.gemm.toFixed(1)}): ${(d.total / r.total).toFixed(2)}x, err ${err.toExponential(0)}`,
      );
    }
    rows.push(`| ${cells.join(' | ')} |`);
    console.error(rows.at(-1));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const peak = fmaPeakGflops(threads);
console.log(
  `\nbatch ${batch}, ${threads} threads, kernel ms per conv (ORT's profiler, medians of ${runs} runs, the three forms in turn); ORT MatMul ${(await matmulGflops(threads)).toFixed(0)} GFLOP/s, float32 FMA peak ${peak ? `${peak.toFixed(0)} GFLOP/s` : 'not measured'}\n`,
);
console.log(
  '| 3x3 conv, stride 1 | direct Conv | Winograd, GEMM-shaped (its GEMMs alone) | Winograd, images outer (its GEMMs alone) |',
);
console.log('|---|---:|---:|---:|');
console.log(rows.join('\n'));
