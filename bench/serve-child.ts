/** What the load and soak scripts share: `smoker-lora serve` as a child process, its RSS, a photo. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

/** Starts `smoker-lora serve --model <run> --host 127.0.0.1 --port 0 ...args`; resolves once it listens. */
export async function spawnServer(
  runDir: string,
  args: string[],
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [cli, 'serve', '--model', runDir, '--host', '127.0.0.1', '--port', '0', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', () => {
      const m = /on (http:\/\/127\.0\.0\.1:\d+) /.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}:\n${out}`)));
  });
  return { child, url, output: () => out };
}

/** Resident set size of a process in MB, from /proc (Linux); NaN elsewhere. */
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return NaN;
}

/** The photo to send: `image`, else the first validation photo of `shared`, else a synthetic JPEG. */
export async function samplePhoto(shared: string, image?: string): Promise<{ bytes: Buffer; name: string }> {
  if (image) return { bytes: readFileSync(image), name: image };
  const val = join(shared, 'data/smoking/Validation/Validation');
  if (existsSync(val)) {
    const first = readdirSync(val)
      .filter((f) => /\.jpe?g$/i.test(f))
      .sort()[0];
    if (first) return { bytes: readFileSync(join(val, first)), name: join(val, first) };
  }
  const raw = Buffer.alloc(320 * 240 * 3, 0);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 37 + (i >> 7)) & 255;
  return {
    bytes: await sharp(raw, { raw: { width: 320, height: 240, channels: 3 } })
      .jpeg()
      .toBuffer(),
    name: 'synthetic 320x240 JPEG',
  };
}
