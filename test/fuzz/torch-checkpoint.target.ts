// Fuzz target: the torch.save reader (zip, pickle VM, storages and views).
import { readFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import type { Rng } from '../../src/random/rng.js';
import { readTorchCheckpoint } from '../../src/weights/torch-checkpoint.js';
import {
  floatView,
  PickleAsm,
  sampleStorage,
  sampleViews,
  stateDictPickle,
  tensorOps,
} from '../weights/pickle-asm.js';
import { deflated, stored, zipArchive } from '../weights/zip-asm.js';
import { checkTensor, type FuzzTarget } from './harness.js';
import { mutate, pick } from './mutate.js';

/** A checkpoint as its entries, so a part can be mutated and the archive rebuilt around it. */
type Entries = [string, Uint8Array][];

const seed = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../../../test/fuzz/seeds/${name}`, import.meta.url)));
const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

const synthetic: Entries[] = [
  [
    [
      'archive/data.pkl',
      stateDictPickle([...sampleViews, floatView({ name: 'i', storageType: 'LongStorage', key: '1' })]),
    ],
    ['archive/data/0', sampleStorage],
    ['archive/data/1', bytes(BigInt64Array.of(-1n, 7n))],
    ['archive/byteorder', new TextEncoder().encode('little')], // as PyTorch 2 writes it
  ],
  // {'epoch': 1, 'state_dict': OrderedDict(w=Parameter(...))}, as a training script saves it.
  (() => {
    const p = new PickleAsm().proto().op('}').op('(').str('epoch').int(1).str('state_dict');
    p.global('collections', 'OrderedDict')
      .op(')')
      .op('R')
      .str('w')
      .global('torch._utils', '_rebuild_parameter')
      .op('(');
    tensorOps(p, floatView({ storageType: 'HalfStorage', numel: 3, size: [3] }));
    p.raw(0x88).global('collections', 'OrderedDict').op(')').op('R').op('t').op('R').op('s').op('u').op('.');
    return [
      ['archive/data.pkl', p.bytes()],
      ['archive/data/0', bytes(Uint16Array.of(0x3c00, 0x4000, 0xc000))],
    ] as Entries;
  })(),
];
// Written by torch.save (PyTorch 1.13): zip64 end records, 64-byte aligned records; see seeds/README.md.
const realFiles = ['torch-state-dict.pth', 'torch-checkpoint.pth'].map(seed);
const archives = [...synthetic, ...realFiles.map((file) => Object.entries(unzipSync(file)) as Entries)];

/** Zips entries back up, each with its true size and CRC, mostly stored (as torch.save does). */
const zip = (rng: Rng, entries: Entries) =>
  zipArchive(entries.map(([name, data]) => (rng.int(4) ? stored : deflated)(name, data)));

const files = [
  ...realFiles,
  ...synthetic.map((entries) => zipArchive(entries.map(([name, data]) => stored(name, data)))),
  ...synthetic.map((entries) => zipArchive(entries.map(([name, data]) => deflated(name, data)))),
];
const pickles = archives.map((entries) => entries.find(([name]) => name.endsWith('/data.pkl'))![1]);

const target: FuzzTarget = {
  where: 'fuzz.pth',
  generate(rng) {
    const entries = pick(rng, archives);
    switch (rng.int(3)) {
      case 0: // the archive's bytes
        return mutate(rng, pick(rng, files), files);
      case 1: // the pickle, in an otherwise valid archive
        return zip(
          rng,
          entries.map(([name, data]) => [
            name,
            name.endsWith('/data.pkl') ? mutate(rng, data, pickles) : data,
          ]),
        );
      default: {
        // one storage record, or the set of entries
        const i = rng.int(entries.length);
        const changed = entries.map(([name, data], j): [string, Uint8Array] => [
          name,
          j === i ? mutate(rng, data, pickles) : data,
        ]);
        return zip(rng, rng.int(4) ? changed : changed.filter((_, j) => j !== i));
      }
    }
  },
  decode(input, where) {
    for (const [name, t] of readTorchCheckpoint(input, where)) checkTensor(name, t);
  },
};
export default target;
