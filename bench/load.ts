/**
 * Load test of `smoker-lora serve`: starts the server on 127.0.0.1 as a child process with a run folder,
 * then autocannon POSTs one real JPEG to /v1/predict from many concurrent clients. Prints requests/s,
 * latency percentiles, errors and non-2xx answers, the server's batching, and its RSS before and after
 * (sampled every second). Exits 1 when any request failed or the RSS grew by more than --max-growth-mb.
 *   node dist/bench/load.js <run folder> [--image photo.jpg] [--connections 50] [--duration 30]
 *     [--warmup 15] [--rounds 1] [--max-batch 32] [--batch-window-ms 5] [--threads N] [--max-growth-mb 50]
 * With --rounds N the load runs N times back to back and the RSS after each round is printed: a leak
 * shows as a climb from round to round.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon, { type Result } from 'autocannon';
import { rssMb, samplePhoto, spawnServer } from './serve-child.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    image: { type: 'string' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '1' },
    'max-batch': { type: 'string', default: '32' },
    'batch-window-ms': { type: 'string', default: '5' },
    threads: { type: 'string', default: String(availableParallelism()) },
    'max-growth-mb': { type: 'string', default: '50' },
    shared: { type: 'string', default: join(fileURLToPath(import.meta.url), '../../../../shared') },
  },
});
const runDir = positionals[0];
if (!runDir) {
  process.stderr.write(
    'usage: node dist/bench/load.js <run folder> [--image photo.jpg] [--duration 30] ...\n',
  );
  process.exit(2);
}
const connections = Number(values.connections);
const duration = Number(values.duration);
const warmup = Number(values.warmup);

interface QueueStats {
  batches: number;
  items: number;
  largestBatch: number;
}
interface Health {
  queues: { predict: QueueStats };
  memoryMb: { rss: number; heapUsed: number; external: number; arrayBuffers: number };
}
const health = async (url: string) => (await (await fetch(url + '/healthz')).json()) as Health;
const queueStats = async (url: string) => (await health(url)).queues.predict;

const fmt = (v: number, d = 1) => v.toFixed(d);

async function run(url: string, body: Buffer, seconds: number): Promise<Result> {
  return autocannon({
    url: url + '/v1/predict',
    method: 'POST',
    body,
    headers: { 'content-type': 'image/jpeg' },
    connections,
    duration: seconds,
    timeout: 60,
  });
}

const { bytes, name } = await samplePhoto(values.shared!, values.image);
const server = await spawnServer(runDir, [
  ...['--max-batch', values['max-batch']!, '--batch-window-ms', values['batch-window-ms']!],
  ...['--threads', values.threads!],
]);
const pid = server.child.pid!;
try {
  const one = await fetch(server.url + '/v1/predict', {
    method: 'POST',
    body: bytes,
    headers: { 'content-type': 'image/jpeg' },
  });
  if (!one.ok) throw new Error(`the photo is refused: ${await one.text()}`);
  const rssIdle = rssMb(pid);
  // Warm-up: bursts of exactly --max-batch requests (ONNX Runtime's arena grows to the largest batch
  // it has run, once), then the load itself for a few seconds.
  const maxBatch = Number(values['max-batch']);
  for (let i = 0; i < 3; i++)
    await Promise.all(
      Array.from({ length: maxBatch }, () =>
        fetch(server.url + '/v1/predict', {
          method: 'POST',
          body: bytes,
          headers: { 'content-type': 'image/jpeg' },
        }).then((res) => res.arrayBuffer()),
      ),
    );
  if (warmup > 0) await run(server.url, bytes, warmup);
  const rssBefore = rssMb(pid);
  const load0 = loadavg()[0];
  const rounds = Number(values.rounds);
  const rows: string[] = [];
  const samples: number[] = [];
  const rssAfterRound: number[] = [];
  const heap: string[] = [];
  let failed = 0;
  for (let round = 1; round <= rounds; round++) {
    const statsBefore = await queueStats(server.url);
    const sampler = setInterval(() => samples.push(rssMb(pid)), 1000);
    const r = await run(server.url, bytes, duration);
    clearInterval(sampler);
    const statsAfter = await queueStats(server.url);
    const batches = statsAfter.batches - statsBefore.batches;
    const items = statsAfter.items - statsBefore.items;
    rssAfterRound.push(rssMb(pid));
    const m = (await health(server.url)).memoryMb;
    heap.push(`${fmt(m.heapUsed)} / ${fmt(m.external)}`);
    failed += r.errors + r.timeouts + r.non2xx;
    rows.push(
      `| ${round} | ${r.requests.total} | ${fmt(r.requests.average)} | ${r.latency.p50} / ${r.latency.p99} / ${r.latency.max} | ` +
        `${r.errors} (${r.timeouts}) | ${r.non2xx} | ${batches} calls, mean ${fmt(items / Math.max(1, batches))} | ` +
        `${fmt(rssAfterRound[round - 1])} | ${heap[round - 1]} |`,
    );
  }
  const rssAfter = rssAfterRound[rounds - 1];
  const growth = rssAfter - rssBefore;
  const lines = [
    `smoker-lora serve under load: ${runDir}`,
    `photo: ${name} (${fmt(bytes.length / 1024)} kB)`,
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${fmt(load0, 2)} at start ` +
      `(other processes share these cores); server: --threads ${values.threads}, --max-batch ` +
      `${values['max-batch']}, --batch-window-ms ${values['batch-window-ms']}`,
    `load: ${connections} concurrent clients, ${rounds} round(s) of ${duration} s after a warm-up ` +
      `(3 bursts of --max-batch requests, then ${warmup} s of load), POST /v1/predict`,
    '',
    '| round | requests | requests/s | latency p50 / p99 / max (ms) | errors (timeouts) | non-2xx | model calls | server RSS after (MB) | JS heap / external (MB) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `server RSS: ${fmt(rssIdle)} MB idle, ${fmt(rssBefore)} MB after the warm-up, ${fmt(rssAfter)} MB after the ` +
      `last round (${growth >= 0 ? '+' : ''}${fmt(growth)} MB); sampled every second under load: ` +
      `${fmt(Math.min(...samples))} to ${fmt(Math.max(...samples))} MB`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (failed > 0) {
    process.stderr.write(
      `load: ${failed} requests failed\n${server.output().split('\n').slice(-10).join('\n')}\n`,
    );
    process.exitCode = 1;
  }
  if (growth > Number(values['max-growth-mb'])) {
    process.stderr.write(
      `load: server RSS grew by ${fmt(growth)} MB (limit ${values['max-growth-mb']} MB)\n`,
    );
    process.exitCode = 1;
  }
} finally {
  server.child.kill('SIGTERM');
}
