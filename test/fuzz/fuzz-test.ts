import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFuzz } from './harness.js';

/**
 * The standard fuzz test of a target: FUZZ_SEED and FUZZ_MS (default 1 and 6000) choose the run,
 * so a longer or different one is `FUZZ_MS=600000 FUZZ_SEED=7 node --test dist/test/fuzz/`.
 */
export function fuzzTest(what: string, targetUrl: string): void {
  test(`fuzz: ${what} end in a clear error or a valid result, each fast and small`, async (t) => {
    const seed = Number(process.env.FUZZ_SEED ?? 1);
    const ms = Number(process.env.FUZZ_MS ?? 6000);
    const r = await runFuzz(targetUrl, { seed, ms, perInputMs: 1000, perInputMB: 100, hangMs: 10_000 });
    t.diagnostic(
      `seed ${seed}: ${r.inputs} inputs in ${ms} ms, ${r.valid} valid, ${r.refused} refused, ` +
        `slowest ${r.slowestMs.toFixed(1)} ms`,
    );
    assert.deepEqual(r.failures, []);
    assert.ok(r.valid > 0 && r.refused > 0, 'the mutations reach both outcomes');
  });
}
