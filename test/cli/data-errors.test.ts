import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkImages } from '../../src/data/check-images.js';
import { Rng } from '../../src/random/rng.js';
import { pngHeaderClaiming } from '../helpers/png-header.js';
import { linesOf, runCli, tinyFixture, trainArgs, type Fixture } from './cli-fixture.js';

/** Seeded random bytes (no image signature), the same every run. */
const noise = (n: number, seed = 3) => {
  const rng = new Rng(seed);
  return Buffer.from(Array.from({ length: n }, () => rng.int(256)));
};

/** Every kind of bad file a photo folder meets, as (file name, bytes, the reason the CLI must give). */
function badFiles(f: Fixture): { name: string; bytes: Buffer | string; reason: RegExp }[] {
  const jpeg = readFileSync(join(f.data, 'Training/Training/smoking_0001.jpg'));
  return [
    {
      name: 'smoking_9001.jpg',
      bytes: noise(4000),
      reason: /: not an image, or a format that cannot be read; /,
    },
    {
      name: 'notsmoking_9002.jpg',
      bytes: jpeg.subarray(0, jpeg.length >> 1),
      reason: /: truncated or corrupt image \(.+\); /,
    },
    { name: 'smoking_9003.jpg', bytes: '', reason: /: empty file, not an image; / },
    {
      name: 'notsmoking_9004.jpg',
      bytes: 'Holiday photos: see the shared album.\n',
      reason: /: not an image, or a format that cannot be read; /,
    },
    {
      // 30000x30000 (900 MP) claimed in the header: refused before any pixel is decoded.
      name: 'smoking_9005.png',
      bytes: pngHeaderClaiming(30000, 30000),
      reason: /: image too large \(\d+x\d+, over 50 megapixels\); /,
    },
  ];
}

/** A copy of the tiny data set with `files` added to Training (and one, if given, to Validation). */
type File = { name: string; bytes: Buffer | string };
function dataWith(f: Fixture, name: string, train: File[], val: File[] = []) {
  const data = join(f.root, name);
  rmSync(data, { recursive: true, force: true });
  cpSync(f.data, data, { recursive: true });
  rmSync(join(data, 'Testing'), { recursive: true });
  for (const b of train) writeFileSync(join(data, 'Training/Training', b.name), b.bytes);
  for (const b of val) writeFileSync(join(data, 'Validation/Validation', b.name), b.bytes);
  return data;
}

test('--on-bad-image fail: each kind of bad file stops the run with exit 1 and one stderr line naming it', async () => {
  const f = await tinyFixture();
  const cases = badFiles(f);
  const results = await Promise.all(
    cases.map((b, i) => {
      const data = dataWith(f, `bad-${i}`, [b]);
      const args = trainArgs({ ...f, data }, join(f.root, `bad-run-${i}`), ['--on-bad-image', 'fail']);
      return runCli(args);
    }),
  );
  for (const [i, r] of results.entries()) {
    const path = join(f.root, `bad-${i}`, 'Training/Training', cases[i].name);
    assert.equal(r.code, 1, `${cases[i].name}: exit code\n${r.stderr}`);
    const lines = linesOf(r.stderr);
    assert.equal(lines.length, 1, `${cases[i].name}: one stderr line, got:\n${r.stderr}`);
    assert.ok(lines[0].startsWith(`smoker-lora: ${path}: `), lines[0]);
    assert.match(lines[0], cases[i].reason);
    assert.match(lines[0], /remove or replace the file, or skip bad images$/);
    assert.ok(!existsSync(join(f.root, `bad-run-${i}`, 'model.onnx')));
  }
});

test('--on-bad-image skip: the run finishes and names every skipped file with its reason', async () => {
  const f = await tinyFixture();
  const [val, ...train] = badFiles(f);
  const data = dataWith(f, 'bad-all', train, [val]);
  const out = join(f.root, 'skip-run');
  const r = await runCli(trainArgs({ ...f, data }, out, ['--on-bad-image', 'skip', '--epochs', '1']));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const skipped = linesOf(r.stdout).filter((l) => l.startsWith('skipped '));
  const expected = [
    ...train.map((b) => ({ ...b, path: join(data, 'Training/Training', b.name) })),
    { ...val, path: join(data, 'Validation/Validation', val.name) },
  ];
  assert.equal(skipped.length, expected.length, skipped.join('\n'));
  for (const b of expected) {
    const line = skipped.find((l) => l.startsWith(`skipped ${b.path}: `));
    assert.ok(line, `${b.path} is named in:\n${skipped.join('\n')}`);
    // The reason without the 'fail' policy's advice.
    assert.match(`${line}; `, b.reason);
  }
  for (const file of ['model.onnx', 'metrics.json', 'history.json', 'adapter_model.safetensors'])
    assert.ok(existsSync(join(out, file)), file);
  assert.ok(!existsSync(join(out, 'checkpoint.safetensors')), 'a finished run keeps no checkpoint');
});

/** Runs `train` on a data folder that must be refused before anything is built or written. */
async function refused(f: Fixture, data: string, message: RegExp) {
  const out = join(f.root, 'never-made');
  const r = await runCli(trainArgs({ ...f, data }, out));
  assert.equal(r.code, 1, r.stderr);
  assert.equal(linesOf(r.stderr).length, 1, r.stderr);
  assert.match(r.stderr, message);
  assert.ok(!existsSync(out), '--out is not created for a refused data set');
}

test('an empty split, a class missing from Validation and a missing --data folder are one clear line each', async () => {
  const f = await tinyFixture();
  const empty = dataWith(f, 'empty-val', []);
  for (const name of ['smoking', 'notsmoking'])
    for (let i = 1; i <= 8; i++)
      rmSync(join(empty, 'Validation/Validation', `${name}_${String(i).padStart(4, '0')}.jpg`), {
        force: true,
      });
  const oneClass = dataWith(f, 'one-class-val', []);
  for (let i = 2; i <= 8; i += 2)
    rmSync(join(oneClass, 'Validation/Validation', `notsmoking_${String(i).padStart(4, '0')}.jpg`));
  await Promise.all([
    refused(
      f,
      empty,
      /^smoker-lora: Validation\/Validation \(\S+\/empty-val\/Validation\/Validation\): no images found \(.+\); add images or fix the path\n$/,
    ),
    refused(
      f,
      oneClass,
      /^smoker-lora: Validation\/Validation has no 'notsmoking' images \(\S+\); every split needs images of every class\n$/,
    ),
    refused(
      f,
      join(f.root, 'no-such-folder'),
      /^smoker-lora: \S+\/no-such-folder: data folder not found; pass the folder holding Training\/ and Validation\/ .*\n$/,
    ),
  ]);
});

test('bad option values are one line each, before anything runs', async () => {
  const f = await tinyFixture();
  const out = join(f.root, 'never-made');
  const cases: [string[], RegExp][] = [
    [
      ['--lr', 'abc'],
      /^error: option '--lr <x>' argument 'abc' is invalid\. 'abc' is not a number in \[0, Infinity\]\.$/,
    ],
    [
      ['--rank', '0'],
      /^error: option '--rank <n>' argument '0' is invalid\. '0' is not a whole number >= 1\.$/,
    ],
    [
      ['--batch', '-1'],
      /^error: option '--batch <n>' argument '-1' is invalid\. '-1' is not a whole number >= 1\.$/,
    ],
    [
      ['--jitter', '1,2'],
      /^smoker-lora: --jitter 1,2: give four numbers brightness,contrast,saturation,hue$/,
    ],
    [
      ['--crop-scale', '0.5'],
      /^smoker-lora: --crop-scale 0\.5: give two area fractions min,max, e\.g\. 0\.5,1$/,
    ],
    [
      ['--crop-scale', '0.8,0.5'],
      /^smoker-lora: --crop-scale: must be min,max with 0 < min <= max <= 1 \(got \[0\.8,0\.5\]\)$/,
    ],
    [
      ['--crop-scale', '0,1'],
      /^smoker-lora: --crop-scale: must be min,max with 0 < min <= max <= 1 \(got \[0,1\]\)$/,
    ],
    [
      ['--crop-scale', '0.5,1.5'],
      /^error: option '--crop-scale <min,max>' argument '0\.5,1\.5' is invalid\. '1\.5' is not a number in \[0, 1\]\.$/,
    ],
    [
      ['--crop-scale', 'half,1'],
      /^error: option '--crop-scale <min,max>' argument 'half,1' is invalid\. 'half' is not a number in \[0, 1\]\.$/,
    ],
    // A switch: a value after it is a stray argument, named with the switch, and one after = an unknown option.
    [
      ['--trivial-augment', 'yes'],
      /^smoker-lora: train: --trivial-augment is a switch and takes no value, but 'yes' follows it: write --trivial-augment alone to turn it on, or leave it out$/,
    ],
    [['extra'], /^smoker-lora: train: unexpected argument 'extra' \(see smoker-lora train --help\)$/],
    [['--trivial-augment=yes'], /^error: unknown option '--trivial-augment=yes'$/],
    [['--epochs', '1.5'], /^error: option '--epochs <n>' argument '1\.5' is invalid\./],
    [['--on-bad-image', 'ignore'], /^error: option '--on-bad-image <policy>' argument 'ignore' is invalid\./],
  ];
  const results = await Promise.all(cases.map(([extra]) => runCli(trainArgs(f, out, extra))));
  for (const [i, r] of results.entries()) {
    const [extra, message] = cases[i];
    assert.equal(r.code, 1, `${extra.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '', extra.join(' '));
    const lines = linesOf(r.stderr);
    assert.equal(lines.length, 1, `${extra.join(' ')}: one line, got:\n${r.stderr}`);
    assert.match(lines[0], message);
  }
  assert.ok(!existsSync(out));
});

test('a JPEG with intact headers and random compressed data is refused', async () => {
  const f = await tinyFixture();
  const jpeg = readFileSync(join(f.data, 'Training/Training/smoking_0001.jpg'));
  const path = join(f.root, 'smoking_random_body.jpg');
  writeFileSync(path, Buffer.concat([jpeg.subarray(0, 700), noise(jpeg.length - 700, 5)]));
  await assert.rejects(
    checkImages([{ path, label: 1 }], { onBadImage: 'fail', size: [224, 224] }),
    /truncated or corrupt image/,
  );
});
