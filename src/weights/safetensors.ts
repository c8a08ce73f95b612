/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length, a JSON header mapping names to dtype/shape/data_offsets
 * (plus an optional string->string `__metadata__`), then the tensors' bytes back to back.
 */
import { printable } from '../graph/printable.js';
import { BYTES_PER_ELEMENT, type DType, numel, type Tensor } from '../graph/tensor.js';
import { bytesOf, dataFromBytes } from './typed-bytes.js';

export interface Safetensors {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

const METADATA_KEY = '__metadata__';

const DTYPE_OF_CODE = new Map<string, DType>([
  ['F32', 'float32'],
  ['F64', 'float64'],
  ['F16', 'float16'],
  ['BF16', 'bfloat16'],
  ['I64', 'int64'],
  ['I32', 'int32'],
  ['I8', 'int8'],
  ['U8', 'uint8'],
  ['BOOL', 'bool'],
]);
const CODE_OF_DTYPE = new Map([...DTYPE_OF_CODE].map(([code, dtype]) => [dtype, code]));

type Fail = (problem: string) => never;

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/** Parses and validates a safetensors file; `where` names it in errors. Data is copied. */
export function readSafetensors(bytes: Uint8Array, where: string): Safetensors {
  const fail: Fail = (problem) => {
    throw new Error(`${where}: ${problem}`);
  };
  if (bytes.byteLength < 8)
    fail(`truncated safetensors file: ${bytes.byteLength} bytes, the header length alone needs 8`);
  const headerLen = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLen > BigInt(bytes.byteLength - 8)) {
    fail(`header length ${headerLen} runs past the end of the ${bytes.byteLength}-byte file (truncated?)`);
  }
  const dataStart = 8 + Number(headerLen);
  const header = parseHeader(bytes.subarray(8, dataStart), fail);
  const data = bytes.subarray(dataStart);
  const entries = checkLayout(parseEntries(header, fail), data.byteLength, fail);
  const tensors = new Map<string, Tensor>();
  for (const e of entries) {
    tensors.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      data: dataFromBytes(e.dtype, data.subarray(e.begin, e.end)),
    });
  }
  return { tensors, metadata: parseMetadata(header[METADATA_KEY], fail) };
}

function parseHeader(raw: Uint8Array, fail: Fail): Record<string, unknown> {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (e) {
    // V8 quotes the offending text, which may hold the file's raw control bytes.
    fail(`invalid JSON header: ${printable((e as Error).message, 200)}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail('header is not a JSON object');
  return header as Record<string, unknown>;
}

function parseMetadata(raw: unknown, fail: Fail): Record<string, string> {
  if (raw === undefined) return {};
  const ok =
    typeof raw === 'object' &&
    raw !== null &&
    !Array.isArray(raw) &&
    Object.values(raw).every((v) => typeof v === 'string');
  if (!ok) fail(`${METADATA_KEY} must be an object of string values`);
  return { ...(raw as Record<string, string>) };
}

function parseEntries(header: Record<string, unknown>, fail: Fail): Entry[] {
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA_KEY) continue;
    const bad: Fail = (problem) => fail(`tensor '${printable(name)}': ${problem}`);
    const { dtype: code, shape, data_offsets: offsets } = (info ?? {}) as Record<string, unknown>;
    const dtype = typeof code === 'string' ? DTYPE_OF_CODE.get(code) : undefined;
    if (!dtype) bad(`unknown dtype ${show(code)} (supported: ${[...DTYPE_OF_CODE.keys()].join(', ')})`);
    if (!isIntArray(shape)) bad(`shape ${show(shape)} is not a list of non-negative integers`);
    if (!isIntArray(offsets) || offsets.length !== 2 || offsets[0] > offsets[1]) {
      bad(`data_offsets ${show(offsets)} is not a [begin, end] pair with begin <= end`);
    }
    const [begin, end] = offsets;
    const need = numel(shape) * BYTES_PER_ELEMENT[dtype];
    if (end - begin !== need) {
      bad(`data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${code} [${shape}] needs ${need}`);
    }
    entries.push({ name, dtype, shape, begin, end });
  }
  return entries;
}

/** Tensors must tile the data buffer exactly: in bounds, no overlaps, no gaps, nothing left over. */
function checkLayout(entries: Entry[], dataLen: number, fail: Fail): Entry[] {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of sorted) {
    const span = `tensor '${printable(e.name)}': data_offsets [${e.begin}, ${e.end}]`;
    if (e.end > dataLen) fail(`${span} lie outside the ${dataLen}-byte data buffer (truncated file?)`);
    if (e.begin !== expected) {
      fail(
        `${span} ${e.begin < expected ? 'overlap the previous tensor' : 'leave a gap'}; expected to start at ${expected}`,
      );
    }
    expected = e.end;
  }
  if (expected !== dataLen) fail(`tensors cover ${expected} bytes but the data buffer has ${dataLen}`);
  return sorted;
}

/** A header value for an error message: short, and safe on nesting too deep for JSON.stringify. */
function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = 'a value nested too deeply to print';
  }
  return printable(s);
}

function isIntArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && x >= 0);
}

/**
 * Serialises tensors in the given order, with the header space-padded so the data starts
 * 8-byte aligned. Metadata, if any, is written last in the header.
 */
export function writeSafetensors(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  // Built by hand rather than JSON.stringify(object) so integer-like names keep their order.
  const fields: string[] = [];
  let offset = 0;
  for (const [name, t] of list) {
    if (name === METADATA_KEY)
      throw new Error(`writeSafetensors: '${METADATA_KEY}' is reserved, not a tensor name`);
    if (t.data.length !== numel(t.shape)) {
      throw new Error(
        `writeSafetensors: tensor '${name}' has ${t.data.length} elements but shape [${t.shape}]`,
      );
    }
    const info = {
      dtype: CODE_OF_DTYPE.get(t.dtype),
      shape: t.shape,
      data_offsets: [offset, offset + t.data.byteLength],
    };
    fields.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset += t.data.byteLength;
  }
  if (metadata && Object.keys(metadata).length > 0)
    fields.push(`"${METADATA_KEY}":${JSON.stringify(metadata)}`);
  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  const headerLen = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.fill(0x20, 8, 8 + headerLen);
  out.set(json, 8);
  let at = 8 + headerLen;
  for (const [, t] of list) {
    out.set(bytesOf(t.data), at);
    at += t.data.byteLength;
  }
  return out;
}
