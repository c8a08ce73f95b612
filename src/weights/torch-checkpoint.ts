/**
 * Reads PyTorch's zip checkpoints (`torch.save` since 1.6): `<archive>/data.pkl` pickles the
 * state dict, and each tensor's storage is the raw little-endian record `<archive>/data/<key>`.
 * Only the globals a state dict needs are allowed, so a hostile file cannot run code.
 *
 * Nothing is inflated or copied until the whole pickle has been read: it yields views of storage
 * records, checked against the records' declared sizes, and only the state dict's own storages are
 * read, once its total size has been checked against them. So a small file cannot cost much time
 * or memory before it is refused.
 */
import { readFile } from 'node:fs/promises';
import { printable } from '../graph/printable.js';
import { BYTES_PER_ELEMENT, type DType, numel, type Tensor } from '../graph/tensor.js';
import { type PyCallable, unpickle } from './pickle.js';
import { lastElement, materialise } from './strided.js';
import { ZipArchive, type ZipEntry } from './zip-archive.js';

type Fail = (problem: string) => never;

const MiB = 2 ** 20;

/** Bounds far above any real checkpoint that refuse hostile ones before their cost is paid. */
const LIMITS = {
  /** data.pkl takes ~120 bytes a tensor (39 KB for ResNet-50); the pickle VM has its own budget. */
  pickleBytes: 16 * MiB,
  /**
   * torch.save stores records uncompressed, and re-zipped real weights shrink little (floats are
   * near-incompressible), so records inflating past this multiple of the archive are a zip bomb.
   */
  inflateRatio: 64,
  inflateSlack: 64 * MiB,
  /**
   * Views may share a storage (tied weights count it twice) or, with stride 0, repeat it; a state
   * dict needing more than this multiple of its storages' bytes is refused rather than expanded.
   */
  expansion: 4,
  expansionSlack: 16 * MiB,
  dims: 64,
};

/** The `torch.XStorage` class named in a persistent id. */
class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: DType,
  ) {}
}

/** A storage record named by a persistent id, read only if a tensor of the state dict needs it. */
class Storage {
  constructor(
    readonly key: string,
    readonly type: StorageType,
    readonly numel: number,
    readonly entry: ZipEntry,
  ) {}

  get byteLength(): number {
    return this.numel * BYTES_PER_ELEMENT[this.type.dtype];
  }
}

/** What `_rebuild_tensor_v2` returns: a checked view of a storage, materialised at the end. */
class TensorView {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}

  get byteLength(): number {
    return numel(this.size) * BYTES_PER_ELEMENT[this.storage.type.dtype];
  }
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
  zip: ZipArchive;
  prefix: string;
  /** Loaded storages by key: torch.load shares one storage among all persistent ids naming its key. */
  storages: Map<string, Storage>;
  fail: Fail;
}

export function readTorchCheckpoint(bytes: Uint8Array, where: string): Map<string, Tensor> {
  const fail: Fail = (problem) => {
    throw new Error(`${where}: ${problem}`);
  };
  const zipMagic = bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5);
  if (!zipMagic) {
    fail(
      bytes[0] === 0x80
        ? 'not a zip archive: a legacy (pre-1.6) torch.save pickle, which is not supported'
        : 'not a zip archive (expected a torch.save checkpoint from PyTorch >= 1.6)',
    );
  }
  const zip = new ZipArchive(bytes, fail);
  const prefix = archivePrefix(zip, fail);
  const archive: Archive = { zip, prefix, storages: new Map(), fail };
  const views = new WeakSet<TensorView>();
  const root = unpickle(readSmall(zip, `${prefix}/data.pkl`, LIMITS.pickleBytes, fail), {
    where: `${where}: ${printable(prefix)}/data.pkl`,
    globals: allowedGlobals(views, fail),
    persistentLoad: (pid) => loadStorage(pid, archive),
    build: (obj, state) => {
      // OrderedDict attributes (state_dict()'s `_metadata` of module versions) are not items.
      if (!(obj instanceof Map && (state === null || state instanceof Map)))
        fail('BUILD on an unsupported object');
    },
  });
  return materialiseAll(stateDictOf(root, views, fail), zip, fail);
}

export async function loadTorchCheckpoint(path: string): Promise<Map<string, Tensor>> {
  return readTorchCheckpoint(await readFile(path), path);
}

/** An entry that must exist and is read whole, refused first if it declares more than `max` bytes. */
function readSmall(zip: ZipArchive, name: string, max: number, fail: Fail): Uint8Array {
  const entry = zip.entries.get(name);
  if (!entry) fail(`missing ${printable(name)}`);
  if (entry.size > max)
    fail(`${printable(name)} declares ${entry.size} bytes, more than the ${max} a checkpoint needs`);
  return zip.read(entry);
}

function archivePrefix(zip: ZipArchive, fail: Fail): string {
  const pkl = [...zip.entries.keys()].find((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (!pkl) fail('missing <archive>/data.pkl: not a torch.save checkpoint');
  const prefix = pkl.slice(0, -'/data.pkl'.length);
  if (zip.entries.has(`${prefix}/byteorder`)) {
    const order = new TextDecoder().decode(readSmall(zip, `${prefix}/byteorder`, 16, fail));
    if (order !== 'little') fail('big-endian checkpoints are not supported');
  }
  return prefix;
}

function allowedGlobals(views: WeakSet<TensorView>, fail: Fail): Map<string, unknown> {
  const orderedDict: PyCallable = (args) => {
    if (args.length > 0) fail('collections.OrderedDict called with arguments');
    return new Map();
  };
  const rebuildTensor: PyCallable = (args) => {
    const t = rebuildTensorV2(args, fail);
    views.add(t);
    return t;
  };
  const rebuildParameter: PyCallable = ([data]) => {
    if (!views.has(data as TensorView))
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

/** Persistent id `('storage', storage_type, key, location, numel)`; checks the record's declared size. */
function loadStorage(pid: unknown, archive: Archive): Storage {
  const { zip, prefix, storages } = archive;
  const fail: Fail = archive.fail;
  const [tag, type, key, , numel]: unknown[] = Array.isArray(pid) && pid.length === 5 ? pid : [];
  if (!(tag === 'storage' && type instanceof StorageType && typeof key === 'string' && isCount(numel))) {
    fail(`unsupported persistent id ${describe(pid)}`);
  }
  const known = storages.get(key);
  if (known) {
    if (known.type !== type || known.numel !== numel) {
      fail(
        `storage ${printable(key)} is named both as ${known.type.name} of ${known.numel} elements and as ${type.name} of ${numel}`,
      );
    }
    return known;
  }
  const path = `${prefix}/data/${key}`;
  const entry = zip.entries.get(path);
  if (!entry) fail(`missing storage record ${printable(path)}`);
  const storage = new Storage(key, type, numel, entry);
  if (entry.size !== storage.byteLength) {
    fail(
      `storage record ${printable(path)} has ${entry.size} bytes but ${type.name} of ${numel} elements needs ${storage.byteLength}`,
    );
  }
  storages.set(key, storage);
  return storage;
}

/** `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])` */
function rebuildTensorV2(args: unknown[], fail: Fail): TensorView {
  const [storage, offset, size, stride] = args;
  if (args.length < 6 || args.length > 7 || !(storage instanceof Storage)) {
    fail(
      '_rebuild_tensor_v2 expects (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])',
    );
  }
  const shapeOk =
    isCount(offset) &&
    isCounts(size) &&
    isCounts(stride) &&
    size.length === stride.length &&
    size.length <= LIMITS.dims;
  if (!shapeOk) fail(`_rebuild_tensor_v2: bad offset/size/stride ${describe([offset, size, stride])}`);
  // Copies: the pickle could still append to the tuples it passed.
  const view = new TensorView(storage, offset, [...size], [...stride]);
  if (lastElement(view) >= storage.numel) {
    fail(
      `storage ${printable(storage.key)} (${storage.numel} elements) is too short for the view ` +
        `at offset ${offset} with size [${size}] and stride [${stride}]`,
    );
  }
  return view;
}

/**
 * Reads the storages the state dict uses and copies each view out, after checking that the records
 * do not inflate like a zip bomb and the views do not expand their storages past LIMITS.expansion.
 */
function materialiseAll(
  stateDict: Map<string, TensorView>,
  zip: ZipArchive,
  fail: Fail,
): Map<string, Tensor> {
  const views = new Set(stateDict.values());
  const storages = new Set([...views].map((v) => v.storage));
  const storageBytes = sum(storages, (s) => s.byteLength);
  const inflated = sum(storages, (s) => (s.entry.method === 0 ? 0 : s.byteLength));
  if (inflated > LIMITS.inflateRatio * zip.byteLength + LIMITS.inflateSlack) {
    fail(
      `its storage records inflate to ${inflated} bytes from a ${zip.byteLength}-byte archive, ` +
        `more than ${LIMITS.inflateRatio} times its size (a zip bomb?)`,
    );
  }
  const tensorBytes = sum(views, (v) => v.byteLength);
  if (tensorBytes > LIMITS.expansion * storageBytes + LIMITS.expansionSlack) {
    const [name, v] = [...stateDict].reduce((a, b) =>
      b[1].byteLength - b[1].storage.byteLength > a[1].byteLength - a[1].storage.byteLength ? b : a,
    );
    fail(
      `tensor '${printable(name)}' of size [${v.size}] and stride [${v.stride}] expands its ${v.storage.numel}-element ` +
        `storage ${printable(v.storage.key)}: the state dict would take ${tensorBytes} bytes from ${storageBytes} ` +
        `bytes of storage, more than the ${LIMITS.expansion} times this loader allows`,
    );
  }
  const records = new Map<Storage, Uint8Array>();
  const tensors = new Map<TensorView, Tensor>();
  const out = new Map<string, Tensor>();
  for (const [name, v] of stateDict) {
    let t = tensors.get(v);
    if (!t) {
      const { storage, offset, size, stride } = v;
      let bytes = records.get(storage);
      if (!bytes) records.set(storage, (bytes = zip.read(storage.entry)));
      try {
        t = materialise({ dtype: storage.type.dtype, storage: bytes, offset, size, stride });
      } catch (e) {
        fail(
          `tensor '${printable(name)}' (${v.byteLength} bytes) cannot be allocated: ${(e as Error).message}`,
        );
      }
      tensors.set(v, t);
    }
    out.set(name, t);
  }
  return out;
}

function sum<T>(items: Iterable<T>, f: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += f(item);
  return total;
}

function stateDictOf(root: unknown, views: WeakSet<TensorView>, fail: Fail): Map<string, TensorView> {
  const isStateDict = (v: unknown): v is Map<string, TensorView> =>
    v instanceof Map && [...v].every(([k, t]) => typeof k === 'string' && views.has(t));
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

/** A short rendering for errors: bounded in depth and width, so shared or deep structures stay small. */
function describe(v: unknown, depth = 3): string {
  if (v instanceof Map) return 'a dict';
  if (Array.isArray(v)) {
    if (depth === 0) return '(...)';
    const shown = v.slice(0, 6).map((x) => describe(x, depth - 1));
    if (v.length > 6) shown.push(`... ${v.length - 6} more`);
    return `(${shown.join(', ')})`;
  }
  if (v instanceof StorageType) return `torch.${v.name}`;
  if (typeof v === 'function') return 'a callable';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'object' && v !== null) return 'an object';
  return String(v);
}
