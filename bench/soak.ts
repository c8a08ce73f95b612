/**
 * Soak test of `smoker-lora serve` under a hostile mix, for minutes: clients sending valid photos, clients
 * sending garbage (random bytes, truncated JPEGs, SVG, headers claiming 20000x20000) and clients sending
 * large PNGs just under the pixel limit (small files, expensive decodes). Prints per minute the valid
 * requests answered 200, their latency p50/p99, the other answers, and the server's RSS; then the RSS
 * after an idle cool-down, against where it started. Exits 1 when fewer than --min-ok of the valid
 * requests got 200 or the RSS ended more than --max-growth-mb above the start.
 *   node dist/bench/soak.js <run folder> [--minutes 3] [--valid 4] [--garbage 4] [--heavy 25]
 *     [--heavy-mp 23.9] [--cooldown 20] [--threads N] [--min-ok 0.95] [--max-growth-mb 50]
 */
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { Rng } from '../src/random/rng.js';
import { rssMb, samplePhoto, spawnServer } from './serve-child.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    minutes: { type: 'string', default: '3' },
    valid: { type: 'string', default: '4' },
    garbage: { type: 'string', default: '4' },
    heavy: { type: 'string', default: '25' },
    'heavy-mp': { type: 'string', default: '23.9' },
    cooldown: { type: 'string', default: '20' },
    threads: { type: 'string', default: String(availableParallelism()) },
    'min-ok': { type: 'string', default: '0.95' },
    'max-growth-mb': { type: 'string', default: '50' },
    shared: { type: 'string', default: join(fileURLToPath(import.meta.url), '../../../../shared') },
  },
});
const runDir = positionals[0];
if (!runDir) {
  process.stderr.write('usage: node dist/bench/soak.js <run folder> [--minutes 3] ...\n');
  process.exit(2);
}

const photo = await samplePhoto(values.shared!);
const rng = new Rng(11);
const side = Math.floor(Math.sqrt(Number(values['heavy-mp']) * 1e6));
// A large image with little information: a few hundred kB of PNG, tens of megapixels to decode.
const heavyPng = await sharp({
  create: { width: side, height: side, channels: 3, background: { r: 90, g: 140, b: 200 } },
})
  .png({ compressionLevel: 9 })
  .toBuffer();
const bombPng = (() => {
  const header = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
  const dims = Buffer.alloc(8);
  dims.writeUInt32BE(20000, 0);
  dims.writeUInt32BE(20000, 4);
  return Buffer.concat([header, dims, Buffer.from('0802000000', 'hex'), Buffer.alloc(4)]);
})();
const garbage: [string, Buffer][] = [
  ['image/jpeg', Buffer.from(Array.from({ length: 5000 }, () => rng.int(256)))],
  ['image/jpeg', photo.bytes.subarray(0, photo.bytes.length >> 1)],
  ['image/svg+xml', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9000" height="9000"/>')],
  ['image/png', bombPng],
];

interface Sample {
  kind: 'valid' | 'garbage' | 'heavy';
  status: number;
  ms: number;
  at: number;
}
const samples: Sample[] = [];
const server = await spawnServer(runDir, ['--threads', values.threads!]);
const pid = server.child.pid!;
const started = performance.now();
const deadline = started + Number(values.minutes) * 60_000;

async function post(body: Buffer, type: string): Promise<number> {
  try {
    const res = await fetch(server.url + '/v1/predict', {
      method: 'POST',
      body,
      headers: { 'content-type': type },
      signal: AbortSignal.timeout(60_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0; // connection error or client timeout
  }
}

async function client(kind: Sample['kind'], k: number): Promise<void> {
  for (let i = 0; performance.now() < deadline; i++) {
    const [type, body] =
      kind === 'valid'
        ? ['image/jpeg', photo.bytes]
        : kind === 'heavy'
          ? ['image/png', heavyPng]
          : garbage[(i + k) % garbage.length];
    const t0 = performance.now();
    const status = await post(body, type);
    samples.push({ kind, status, ms: performance.now() - t0, at: t0 - started });
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const f1 = (v: number) => v.toFixed(1);

// Warm-up, so that the start RSS holds what any server holds after its first minutes: the model run at
// every batch size up to a full one, and each kind of upload decoded once.
for (let n = 1; n <= 32; n *= 2)
  await Promise.all(Array.from({ length: n }, () => post(photo.bytes, 'image/jpeg')));
await post(heavyPng, 'image/png');
for (const [type, body] of garbage) await post(body, type);
const memory = async () =>
  ((await (await fetch(server.url + '/healthz')).json()) as { memoryMb: Record<string, number> }).memoryMb;
const rssStart = rssMb(pid);
const heapStart = await memory();
const rssPerMinute: number[] = [];
const sampler = setInterval(() => rssPerMinute.push(rssMb(pid)), 60_000);
const clients = [
  ...Array.from({ length: Number(values.valid) }, (_, k) => client('valid', k)),
  ...Array.from({ length: Number(values.garbage) }, (_, k) => client('garbage', k)),
  ...Array.from({ length: Number(values.heavy) }, (_, k) => client('heavy', k)),
];
await Promise.all(clients);
clearInterval(sampler);
const rssLoadEnd = rssMb(pid);
await new Promise((r) => setTimeout(r, Number(values.cooldown) * 1000));
const rssEnd = rssMb(pid);
const heapEnd = await memory();
server.child.kill('SIGTERM');

const minutes = Math.ceil(Number(values.minutes));
const rows = Array.from({ length: minutes }, (_, m) => {
  const inMinute = samples.filter((s) => s.at >= m * 60_000 && s.at < (m + 1) * 60_000);
  const valid = inMinute.filter((s) => s.kind === 'valid');
  const ok = valid.filter((s) => s.status === 200);
  const others = (kind: Sample['kind']) => {
    const counts = new Map<number, number>();
    for (const s of inMinute.filter((x) => x.kind === kind))
      counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
    return [...counts].map(([status, n]) => `${n}×${status}`).join(' ');
  };
  return `| ${m + 1} | ${ok.length} / ${valid.length} | ${f1(
    pct(
      ok.map((s) => s.ms),
      50,
    ),
  )} / ${f1(
    pct(
      ok.map((s) => s.ms),
      99,
    ),
  )} | ${others('heavy')} | ${others('garbage')} | ${f1(rssPerMinute[m] ?? rssLoadEnd)} |`;
});
const valid = samples.filter((s) => s.kind === 'valid');
const okShare = valid.filter((s) => s.status === 200).length / Math.max(1, valid.length);
const growth = rssEnd - rssStart;
process.stdout.write(
  [
    `smoker-lora serve soak: ${runDir}, ${values.minutes} min, ${cpus().length} cores, --threads ${values.threads}`,
    `clients: ${values.valid} valid (${photo.name}, ${f1(photo.bytes.length / 1024)} kB), ${values.garbage} garbage ` +
      `(random bytes, truncated JPEG, SVG, a 20000x20000 PNG header), ${values.heavy} heavy (${side}x${side} PNG, ` +
      `${f1(heavyPng.length / 1024)} kB, ${f1((side * side) / 1e6)} MP)`,
    '',
    '| minute | valid 200 / sent | valid latency p50 / p99 (ms) | heavy answers | garbage answers | server RSS (MB) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `valid requests answered 200: ${(100 * okShare).toFixed(1)}% of ${valid.length}; server RSS ${f1(rssStart)} MB at ` +
      `the start, ${f1(rssLoadEnd)} MB when the load ended, ${f1(rssEnd)} MB after ${values.cooldown} s idle ` +
      `(${growth >= 0 ? '+' : ''}${f1(growth)} MB)`,
    `server memory at start and end (MB): ${['heapUsed', 'external', 'arrayBuffers'].map((k) => `${k} ${heapStart[k]} -> ${heapEnd[k]}`).join(', ')}`,
  ].join('\n') + '\n',
);
if (okShare < Number(values['min-ok'])) process.exitCode = 1;
if (growth > Number(values['max-growth-mb'])) process.exitCode = 1;
