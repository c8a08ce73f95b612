// Tiny .pth files built to cost time or memory (issue 8): each must be refused, or read, in well
// under a second without growing the process by 100 MB, with a one-line error naming the file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { constants, crc32, deflateRawSync } from 'node:zlib';
import { readTorchCheckpoint } from '../../src/weights/torch-checkpoint.js';
import { checkpointZip, floatView, PickleAsm, stateDictPickle } from './pickle-asm.js';
import { deflated, stored, zipArchive } from './zip-asm.js';

const MiB = 2 ** 20;
const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);

/** Runs `read` and checks it took under a second and grew the peak RSS by under 100 MB. */
function bounded<T>(label: string, read: () => T): T {
  const rss = process.resourceUsage().maxRSS;
  const start = performance.now();
  try {
    return read();
  } finally {
    const ms = performance.now() - start;
    const grown = (process.resourceUsage().maxRSS - rss) / 1024;
    assert.ok(ms < 1000, `${label}: took ${ms.toFixed(0)} ms`);
    assert.ok(grown < 100, `${label}: peak RSS grew by ${grown.toFixed(0)} MB`);
  }
}

/** Checks the file is refused with a one-line error that starts with its name and matches `problem`. */
function refused(file: Uint8Array, name: string, problem: RegExp): void {
  bounded(name, () =>
    assert.throws(
      () => readTorchCheckpoint(file, name),
      (e: Error) => {
        assert.ok(e.message.startsWith(`${name}: `), e.message);
        assert.ok(!e.message.includes('\n') && e.message.length < 400, e.message.slice(0, 400));
        assert.match(e.message, problem);
        return true;
      },
    ),
  );
}

/** `n` MiB of zeros as raw deflate, built from one compressed MiB repeated (no gigabyte buffer needed). */
function deflatedZeros(n: number): Uint8Array {
  const mib = deflateRawSync(new Uint8Array(MiB), { finishFlush: constants.Z_SYNC_FLUSH });
  return Buffer.concat([...Array<Uint8Array>(n).fill(mib), deflateRawSync(new Uint8Array(0))]);
}

test('a 500M-element stride-0 view of a 1-element storage is refused, not expanded', () => {
  const file = checkpointZip(stateDictPickle([floatView({ numel: 1, size: [500_000_000], stride: [0] })]), {
    '0': f32(1),
  });
  assert.ok(file.length < 600);
  refused(
    file,
    'stride0.pth',
    /^stride0\.pth: tensor 'w' of size \[500000000\] and stride \[0\] expands its 1-element storage 0: the state dict would take 2000000000 bytes from 4 bytes of storage, more than the 4 times this loader allows$/,
  );
  // Shapes whose element count overflows a double are refused the same way.
  const huge = floatView({ numel: 1, size: [2 ** 30, 2 ** 30, 2 ** 30], stride: [0, 0, 0] });
  refused(checkpointZip(stateDictPickle([huge]), { '0': f32(1) }), 'huge.pth', /expands its 1-element/);
});

test('views that share their storage, like tied weights, still load', () => {
  const tied = [
    floatView({ name: 'a', numel: 4, size: [4] }),
    floatView({ name: 'b', numel: 4, size: [2, 2], stride: [2, 1] }),
  ];
  const sd = readTorchCheckpoint(checkpointZip(stateDictPickle(tied), { '0': f32(1, 2, 3, 4) }), 'tied.pth');
  assert.deepEqual([...(sd.get('a')?.data ?? [])], [1, 2, 3, 4]);
  assert.deepEqual(sd.get('b')?.shape, [2, 2]);
  assert.notEqual(sd.get('a')?.data.buffer, sd.get('b')?.data.buffer);
});

test('lists sharing references 40 levels deep are described in a few words, never expanded', () => {
  // x0 = []; x(i+1) = [x(i), x(i)]: 2^40 leaves if copied.
  const p = new PickleAsm().proto().op(']').raw(0x71, 0);
  for (let i = 0; i < 40; i++)
    p.op(']')
      .op('(')
      .raw(0x68, i, 0x68, i)
      .op('e')
      .raw(0x71, i + 1);
  const file = checkpointZip(p.op('.').bytes(), {});
  assert.ok(file.length < 700);
  refused(
    file,
    'shared.pth',
    /^shared\.pth: top-level object is \(\(\(\(\.\.\.\), .*expected a dict of tensors$/,
  );
  // The same structure as a persistent id or a tensor's size goes through the same bounded description.
  const pid = new PickleAsm().proto().op(']').raw(0x71, 0);
  for (let i = 0; i < 40; i++)
    pid
      .op(']')
      .op('(')
      .raw(0x68, i, 0x68, i)
      .op('e')
      .raw(0x71, i + 1);
  refused(
    checkpointZip(pid.op('Q').op('.').bytes(), {}),
    'pid.pth',
    /^pid\.pth: unsupported persistent id \(\(\(/,
  );
});

test('a zip with an unreferenced 1.5 GiB entry reads only what the pickle references', () => {
  const junk = { name: 'archive/data/junk', data: deflatedZeros(1536), method: 8 as const, size: 1536 * MiB };
  const file = zipArchive([
    stored('archive/data.pkl', stateDictPickle([floatView()])),
    stored('archive/data/0', f32(3, 4)),
    junk,
  ]);
  assert.ok(file.length < 2 * MiB);
  const sd = bounded('unreferenced.pth', () => readTorchCheckpoint(file, 'unreferenced.pth'));
  assert.deepEqual(sd, new Map([['w', { dtype: 'float32', shape: [2], data: Float32Array.of(3, 4) }]]));
});

test('storage records that inflate like a zip bomb, or past their declared size, are refused', () => {
  const numel = (1536 * MiB) / 4;
  const pkl = stored('archive/data.pkl', stateDictPickle([floatView({ numel, size: [numel] })]));
  const bomb = { name: 'archive/data/0', data: deflatedZeros(1536), method: 8 as const, size: 1536 * MiB };
  refused(
    zipArchive([pkl, bomb]),
    'bomb.pth',
    /^bomb\.pth: its storage records inflate to 1610612736 bytes from a \d+-byte archive, more than 64 times its size \(a zip bomb\?\)$/,
  );
  // A record that declares the 8 bytes its storage needs but holds 1.5 GiB stops at byte 9.
  const liar = { ...bomb, size: 8, crc: crc32(f32(0, 0)) };
  refused(
    zipArchive([stored('archive/data.pkl', stateDictPickle([floatView()])), liar]),
    'liar.pth',
    /^liar\.pth: corrupt zip entry archive\/data\/0: it inflates to more than its declared 8 bytes$/,
  );
  // A data.pkl that declares more than any pickle needs is refused before it is inflated.
  const bigPickle = { name: 'archive/data.pkl', data: deflatedZeros(64), method: 8 as const, size: 64 * MiB };
  refused(
    zipArchive([bigPickle]),
    'pkl.pth',
    /^pkl\.pth: archive\/data\.pkl declares 67108864 bytes, more than/,
  );
});

test('zip entries whose data overlap are refused, so one body cannot be read under many names', () => {
  const views = Array.from({ length: 100 }, (_, i) =>
    floatView({ name: `w${i}`, key: String(i), numel: 1024, size: [1024] }),
  );
  const body = stored('archive/data/0', new Uint8Array(4096));
  const aliases = views.slice(1).map((v) => ({ ...body, name: `archive/data/${v.key}`, sameAs: body.name }));
  refused(
    zipArchive([stored('archive/data.pkl', stateDictPickle(views)), body, ...aliases]),
    'overlap.pth',
    /^overlap\.pth: corrupt zip archive: entries archive\/data\/0 and archive\/data\/1 share their data$/,
  );
});

test('a damaged record fails its CRC', () => {
  const record = stored('archive/data/0', f32(3, 4));
  const file = zipArchive([
    stored('archive/data.pkl', stateDictPickle([floatView()])),
    { ...record, crc: record.crc! ^ 1 },
  ]);
  refused(
    file,
    'crc.pth',
    /^crc\.pth: corrupt zip entry archive\/data\/0: CRC mismatch \(the file is damaged\)$/,
  );
  // Deflated records (a re-zipped checkpoint) read like stored ones.
  const sd = readTorchCheckpoint(
    zipArchive([
      deflated('archive/data.pkl', stateDictPickle([floatView()])),
      deflated('archive/data/0', f32(3, 4)),
    ]),
    'deflated.pth',
  );
  assert.deepEqual([...(sd.get('w')?.data ?? [])], [3, 4]);
});

test('a 1 MB GLOBAL line and 300k APPENDS end in errors that name the file', () => {
  const line = new PickleAsm()
    .proto()
    .op('c')
    .data(new Uint8Array(MiB).fill(0x61))
    .raw(0x0a, 0x62, 0x0a, 0x2e);
  refused(
    checkpointZip(line.bytes(), {}),
    'global.pth',
    /^global\.pth: archive\/data\.pkl byte 2: GLOBAL argument longer than 256 bytes$/,
  );
  const appends = new PickleAsm()
    .proto()
    .op(']')
    .op('(')
    .data(new Uint8Array(300_000).fill(0x4e))
    .op('e')
    .op('.');
  refused(
    checkpointZip(appends.bytes(), {}),
    'appends.pth',
    /^appends\.pth: top-level object is \(null, null, null, null, null, null, \.\.\. 299994 more\), expected a dict of tensors$/,
  );
});

test('floods of cheap opcodes hit the pickle budget within the time and memory bounds', () => {
  // Each a few KB once deflated: empty dicts, Nones, empty lists, memo entries, and memo gets.
  const floods: [string, (n: number) => Uint8Array][] = [
    ['dicts', (n) => new Uint8Array(n).fill(0x7d)],
    ['nones', (n) => new Uint8Array(n).fill(0x4e)],
    ['lists', (n) => new Uint8Array(n).fill(0x5d)],
    ['memoize', (n) => new Uint8Array(n).fill(0x94)],
    ['binget', (n) => Uint8Array.from({ length: n }, (_, i) => (i % 2 ? 0 : 0x68))],
  ];
  for (const [name, body] of floods) {
    const pkl = Buffer.concat([Uint8Array.of(0x80, 2, 0x5d, 0x71, 0), body(8 * MiB)]);
    refused(
      zipArchive([deflated('archive/data.pkl', pkl)]),
      `${name}.pth`,
      /: archive\/data\.pkl byte \d+: the stream builds more than 2097152 units \(~16 MiB\) of objects/,
    );
  }
});

test('found by fuzzing: errors describe callables and odd names in one line', () => {
  // A persistent id holding an allowed callable once printed the callable's source, newlines and all.
  const pid = new PickleAsm()
    .proto()
    .op('(')
    .str('storage')
    .global('collections', 'OrderedDict')
    .op('t')
    .op('Q');
  refused(
    checkpointZip(pid.op('.').bytes(), {}),
    'callable.pth',
    /^callable\.pth: unsupported persistent id \("storage", a callable\)$/,
  );
  // Names from the file are escaped, so they cannot break the message over lines.
  refused(
    checkpointZip(stateDictPickle([floatView({ name: 'w\nx', numel: 1, size: [2 ** 30], stride: [0] })]), {
      '0': f32(1),
    }),
    'name.pth',
    /^name\.pth: tensor 'w\\u000ax' of size \[1073741824\]/,
  );
});
