// The fuzz loop, run in a worker by harness.ts so a hang can be ended from outside.
import { parentPort, workerData } from 'node:worker_threads';
import { type FuzzOptions, type FuzzReport, type FuzzTarget, inputRng } from './harness.js';

const { targetUrl, options, progress } = workerData as {
  targetUrl: string;
  options: FuzzOptions;
  progress: Int32Array;
};
const target = ((await import(targetUrl)) as { default: FuzzTarget }).default;
const peakMB = () => process.resourceUsage().maxRSS / 1024;

const report: FuzzReport = { inputs: 0, valid: 0, refused: 0, slowestMs: 0, failures: [] };
const start = performance.now();
for (let i = 0; performance.now() - start < options.ms; i++) {
  Atomics.store(progress, 0, i);
  const input = target.generate(inputRng(options.seed, i));
  const rss = peakMB();
  const t0 = performance.now();
  let broke: string | undefined;
  try {
    target.decode(input, target.where);
    report.valid++;
  } catch (e) {
    const message = e instanceof Error ? e.message : `a thrown ${typeof e}`;
    const clear = message.startsWith(target.where) && !message.includes('\n') && message.length <= 1000;
    if (!(e instanceof Error) || !clear) {
      broke = `threw ${e instanceof Error ? e.name : typeof e}: ${message.slice(0, 300)}`;
    } else report.refused++;
  }
  const ms = performance.now() - t0;
  const grew = peakMB() - rss;
  report.slowestMs = Math.max(report.slowestMs, ms);
  if (ms > options.perInputMs) broke = `${broke ?? 'ended'} after ${ms.toFixed(0)} ms`;
  if (grew > options.perInputMB) broke = `${broke ?? 'ended'} with peak RSS up ${grew.toFixed(0)} MB`;
  if (broke) report.failures.push(`input ${i} (seed ${options.seed}, ${input.length} bytes): ${broke}`);
  report.inputs++;
}
parentPort?.postMessage(report);
