import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Graph } from '../src/graph/ir.js';
import { f32 } from '../src/graph/tensor.js';
import { Rng } from '../src/random/rng.js';
import { Session } from '../src/runtime/session.js';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** ORT MatMul throughput on this machine, so img/s figures can be compared across machines. */
export async function matmulGflops(threads: number): Promise<number> {
  const n = 2048;
  const g = new Graph();
  g.inputs.push({ name: 'a', dtype: 'float32', shape: [n, n] });
  g.add('MatMul', ['a', 'a'], { outputs: ['c'] });
  g.outputs.push({ name: 'c', dtype: 'float32', shape: [n, n] });
  const session = await Session.create(g, { threads });
  const a = f32([n, n], new Rng(2).uniformArray(n * n, -1, 1));
  await session.run({ a });
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    await session.run({ a });
    times.push((performance.now() - t0) / 1000);
  }
  await session.release();
  return (2 * n ** 3) / median(times) / 1e9;
}

/**
 * The CPU's float32 FMA peak in GFLOP/s on `threads` threads (bench/fma-peak.c, built here with the
 * machine's C compiler), the ceiling any engine's convolutions meet; undefined when cc cannot build or run it.
 */
export function fmaPeakGflops(threads: number): number | undefined {
  const source = fileURLToPath(new URL('../../bench/fma-peak.c', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'fma-peak-'));
  try {
    const exe = join(dir, 'fma-peak');
    execFileSync('cc', ['-O2', '-march=native', '-pthread', source, '-o', exe], { stdio: 'ignore' });
    return Number(execFileSync(exe, [String(threads)], { encoding: 'utf8' }).split(' ')[0]);
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
