/**
 * Reads PyTorch's zip checkpoints (`torch.save` since 1.6): `<archive>/data.pkl` pickles the
 * state dict, and each tensor's storage is the raw little-endian record `<archive>/data/<key>`.
 * Only the globals a state dict needs are allowed, so a hostile file cannot run code.
 */
import { unzipSync } from 'fflate';
import { readFile } from 'node:fs/promises';
import { BYTES_PER_ELEMENT, type DType, type Tensor } from '../graph/tensor.js';
import { type PyCallable, unpickle } from './pickle.js';
import { lastElement, materialise } from './strided.js';

type Fail = (problem: string) => never;

/** The `torch.XStorage` class named in a persistent id. */
class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: DType,
  ) {}
}

/** A storage record as loaded by a persistent id: raw bytes plus how to read them. */
class Storage {
  constructor(
    readonly key: string,
    readonly type: StorageType,
    readonly bytes: Uint8Array,
    readonly numel: number,
  ) {}
}

const STORAGE_TYPES = (
  [
    ['FloatStorage', 'float32'],
    ['DoubleStorage', 'float64'],
    ['HalfStorage', 'float16'],
    ['BFloat16Storage', 'bfloat16'],
    ['LongStorage', 'int64'],
    ['IntStorage', 'int32'],
    ['ByteStorage', 'uint8'],
    ['BoolStorage', 'bool'],
  ] as const
).map(([name, dtype]) => new StorageType(name, dtype));

interface Archive {
  files: Record<string, Uint8Array>;
  prefix: string;
  fail: Fail;
}

export function readTorchCheckpoint(bytes: Uint8Array, where: string): Map<string, Tensor> {
  const fail: Fail = (problem) => {
    throw new Error(`${where}: ${problem}`);
  };
  const files = unzip(bytes, fail);
  const prefix = archivePrefix(files, fail);
  const archive: Archive = { files, prefix, fail };
  const tensors = new WeakSet<Tensor>();
  const root = unpickle(files[`${prefix}/data.pkl`], {
    where: `${where}: ${prefix}/data.pkl`,
    globals: allowedGlobals(tensors, fail),
    persistentLoad: (pid) => loadStorage(pid, archive),
    build: (obj, state) => {
      // OrderedDict attributes (state_dict()'s `_metadata` of module versions) are not items.
      if (!(obj instanceof Map && (state === null || state instanceof Map)))
        fail('BUILD on an unsupported object');
    },
  });
  return stateDictOf(root, tensors, fail);
}

export async function loadTorchCheckpoint(path: string): Promise<Map<string, Tensor>> {
  return readTorchCheckpoint(await readFile(path), path);
}

function unzip(bytes: Uint8Array, fail: Fail): Record<string, Uint8Array> {
  const zipMagic = bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5);
  if (!zipMagic) {
    fail(
      bytes[0] === 0x80
        ? 'not a zip archive: a legacy (pre-1.6) torch.save pickle, which is not supported'
        : 'not a zip archive (expected a torch.save checkpoint from PyTorch >= 1.6)',
    );
  }
  try {
    return unzipSync(bytes);
  } catch (e) {
    fail(`corrupt zip archive: ${(e as Error).message}`);
  }
}

function archivePrefix(files: Record<string, Uint8Array>, fail: Fail): string {
  const pkl = Object.keys(files).find((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (!pkl) fail('missing <archive>/data.pkl: not a torch.save checkpoint');
  const prefix = pkl.slice(0, -'/data.pkl'.length);
  const order = files[`${prefix}/byteorder`];
  if (order && new TextDecoder().decode(order) !== 'little') fail('big-endian checkpoints are not supported');
  return prefix;
}

function allowedGlobals(tensors: WeakSet<Tensor>, fail: Fail): Map<string, unknown> {
  const orderedDict: PyCallable = (args) => {
    if (args.length > 0) fail('collections.OrderedDict called with arguments');
    return new Map();
  };
  const rebuildTensor: PyCallable = (args) => {
    const t = rebuildTensorV2(args, fail);
    tensors.add(t);
    return t;
  };
  const rebuildParameter: PyCallable = ([data]) => {
    if (!tensors.has(data as Tensor))
      fail('torch._utils._rebuild_parameter on something that is not a tensor');
    return data;
  };
  return new Map<string, unknown>([
    ['collections.OrderedDict', orderedDict],
    ['torch._utils._rebuild_tensor_v2', rebuildTensor],
    ['torch._utils._rebuild_parameter', rebuildParameter],
    ...STORAGE_TYPES.map((t) => [`torch.${t.name}`, t] as const),
  ]);
}

/** Persistent id `('storage', storage_type, key, location, numel)`. */
function loadStorage(pid: unknown, archive: Archive): Storage {
  const { files, prefix } = archive;
  const [tag, type, key, , numel]: unknown[] = Array.isArray(pid) && pid.length === 5 ? pid : [];
  if (!(tag === 'storage' && type instanceof StorageType && typeof key === 'string' && isCount(numel))) {
    archive.fail(`unsupported persistent id ${describe(pid)}`);
  }
  const path = `${prefix}/data/${key}`;
  if (!Object.hasOwn(files, path)) archive.fail(`missing storage record ${path}`);
  const bytes = files[path];
  const need = numel * BYTES_PER_ELEMENT[type.dtype];
  if (bytes.byteLength !== need) {
    archive.fail(
      `storage record ${path} has ${bytes.byteLength} bytes but ${type.name} of ${numel} elements needs ${need}`,
    );
  }
  return new Storage(key, type, bytes, numel);
}

/** `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])` */
function rebuildTensorV2(args: unknown[], fail: Fail): Tensor {
  const [storage, offset, size, stride] = args;
  if (args.length < 6 || args.length > 7 || !(storage instanceof Storage)) {
    fail(
      '_rebuild_tensor_v2 expects (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])',
    );
  }
  const shapeOk = isCount(offset) && isCounts(size) && isCounts(stride) && size.length === stride.length;
  if (!shapeOk) fail(`_rebuild_tensor_v2: bad offset/size/stride ${describe([offset, size, stride])}`);
  const view = { dtype: storage.type.dtype, storage: storage.bytes, offset, size, stride };
  if (lastElement(view) >= storage.numel) {
    fail(
      `storage ${storage.key} (${storage.numel} elements) is too short for the view ` +
        `at offset ${offset} with size [${size}] and stride [${stride}]`,
    );
  }
  return materialise(view);
}

function stateDictOf(root: unknown, tensors: WeakSet<Tensor>, fail: Fail): Map<string, Tensor> {
  const isStateDict = (v: unknown): v is Map<string, Tensor> =>
    v instanceof Map && [...v].every(([k, t]) => typeof k === 'string' && tensors.has(t));
  if (isStateDict(root)) return root;
  if (!(root instanceof Map)) fail(`top-level object is ${describe(root)}, expected a dict of tensors`);
  const nested = [root.get('state_dict'), root.get('model')].find(isStateDict);
  if (!nested)
    fail("top-level dict is not a flat dict of tensors and has no 'state_dict' or 'model' entry that is");
  return nested;
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

function isCounts(v: unknown): v is number[] {
  return Array.isArray(v) && v.every(isCount);
}

function describe(v: unknown): string {
  if (v instanceof Map) return 'a dict';
  if (Array.isArray(v)) return `(${v.map(describe).join(', ')})`;
  if (v instanceof StorageType) return `torch.${v.name}`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'object' && v !== null) return 'an object';
  return String(v);
}
