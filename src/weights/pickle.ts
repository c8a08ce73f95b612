/**
 * A small, safe pickle VM: the protocol-2 subset (plus FRAME, MEMOIZE, SHORT_BINUNICODE and
 * STACK_GLOBAL from protocol 4) that PyTorch state dicts use. It builds nothing by itself: every GLOBAL must
 * be on the caller's allow-list, and persistent ids go to the caller's `persistentLoad`.
 *
 * Python values map to: None -> null, bool -> boolean, int -> number (bigint beyond 2^53),
 * float -> number, str -> string, tuple and list -> array, dict -> Map. The memo shares objects as
 * Python does; nothing is ever copied.
 *
 * Every opcode does constant work per value it moves, and every value built is charged against a
 * budget, so a small hostile stream is refused in milliseconds rather than exhausting memory.
 */

import { printable } from '../graph/printable.js';

/** A callable global; REDUCE and NEWOBJ call it with the argument tuple. */
export type PyCallable = (args: unknown[]) => unknown;

export interface UnpickleOptions {
  /** Names the stream in errors, e.g. `model.pth: archive/data.pkl`. */
  where: string;
  /** Allowed globals by `module.name`: a PyCallable, or any value to push as-is. */
  globals: ReadonlyMap<string, unknown>;
  persistentLoad: (pid: unknown) => unknown;
  /** BUILD (setting an object's state) on a value the VM does not own; absent means unsupported. */
  build?: (obj: unknown, state: unknown) => void;
}

export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  return new Unpickler(bytes, options).run();
}

const OP = {
  MARK: 0x28, // (
  STOP: 0x2e, // .
  BINFLOAT: 0x47, // G
  BININT: 0x4a, // J
  BININT1: 0x4b, // K
  BININT2: 0x4d, // M
  NONE: 0x4e, // N
  BINPERSID: 0x51, // Q
  REDUCE: 0x52, // R
  BINUNICODE: 0x58, // X
  EMPTY_LIST: 0x5d, // ]
  APPEND: 0x61, // a
  BUILD: 0x62, // b
  GLOBAL: 0x63, // c
  APPENDS: 0x65, // e
  BINGET: 0x68, // h
  LONG_BINGET: 0x6a, // j
  BINPUT: 0x71, // q
  LONG_BINPUT: 0x72, // r
  SETITEM: 0x73, // s
  TUPLE: 0x74, // t
  SETITEMS: 0x75, // u
  EMPTY_DICT: 0x7d, // }
  EMPTY_TUPLE: 0x29, // )
  PROTO: 0x80,
  NEWOBJ: 0x81,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  SHORT_BINUNICODE: 0x8c,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
} as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * What one stream may build, in units of about 8 bytes of JS memory (2^21 is ~16 MiB). Every opcode
 * costs at least one unit, directly or through the value it consumes, so this also bounds the work.
 * ResNet-50's state dict takes 51,000 units (160 a tensor), so this admits some 13,000 tensors.
 */
const MAX_UNITS = 2 ** 21;
/** Units per value, from V8's sizes: a stack slot 8 bytes, an array ~32, a Map ~150, a Map entry ~24. */
const COST = { slot: 1, list: 4, dict: 20, item: 3, memo: 4, made: 20 } as const;
/** GLOBAL's module and name are identifiers; no real one comes near this. */
const MAX_LINE = 256;

class Unpickler {
  private pos = 0;
  private opStart = 0;
  private stack: unknown[] = [];
  private marks: number[] = [];
  private memo = new Map<number, unknown>();
  private units = 0;
  private view: DataView;

  constructor(
    private bytes: Uint8Array,
    private options: UnpickleOptions,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  run(): unknown {
    for (;;) {
      this.opStart = this.pos;
      const op = this.u8();
      if (op === OP.STOP) return this.pop();
      this.step(op);
    }
  }

  private step(op: number): void {
    switch (op) {
      case OP.PROTO:
        this.u8();
        return this.charge(COST.slot);
      case OP.FRAME: // Frames only help buffered readers; we have the whole stream.
        this.take(8);
        return this.charge(COST.slot);
      case OP.MARK:
        this.charge(COST.slot);
        this.marks.push(this.stack.length);
        return;
      case OP.NONE:
        return this.push(null);
      case OP.NEWTRUE:
        return this.push(true);
      case OP.NEWFALSE:
        return this.push(false);
      case OP.BININT:
        return this.push(this.view.getInt32(this.skip(4), true));
      case OP.BININT1:
        return this.push(this.u8());
      case OP.BININT2:
        return this.push(this.view.getUint16(this.skip(2), true));
      case OP.LONG1:
        return this.push(decodeLong(this.take(this.u8())), COST.list);
      case OP.BINFLOAT:
        return this.push(this.view.getFloat64(this.skip(8), false));
      case OP.BINUNICODE:
        return this.push(this.str(this.view.getUint32(this.skip(4), true)));
      case OP.SHORT_BINUNICODE:
        return this.push(this.str(this.u8()));
      case OP.EMPTY_TUPLE:
      case OP.EMPTY_LIST:
        return this.push([], COST.list);
      case OP.EMPTY_DICT:
        return this.push(new Map(), COST.dict);
      case OP.TUPLE:
        return this.push(this.popMark(), COST.list);
      case OP.TUPLE1:
      case OP.TUPLE2:
      case OP.TUPLE3:
        return this.push(this.popN(op - OP.TUPLE1 + 1), COST.list);
      case OP.APPEND:
        return this.append(this.popN(1));
      case OP.APPENDS:
        return this.append(this.popMark());
      case OP.SETITEM:
        return this.setItems(this.popN(2));
      case OP.SETITEMS:
        return this.setItems(this.popMark());
      case OP.BINPUT:
        return this.put(this.u8());
      case OP.LONG_BINPUT:
        return this.put(this.view.getUint32(this.skip(4), true));
      case OP.MEMOIZE:
        return this.put(this.memo.size);
      case OP.BINGET:
        return this.get(this.u8());
      case OP.LONG_BINGET:
        return this.get(this.view.getUint32(this.skip(4), true));
      case OP.GLOBAL:
        return this.global(this.line(), this.line());
      case OP.STACK_GLOBAL: {
        const [module, name] = this.popN(2);
        if (typeof module !== 'string' || typeof name !== 'string')
          this.fail('STACK_GLOBAL needs two strings');
        return this.global(module, name);
      }
      case OP.REDUCE:
      case OP.NEWOBJ: // Allowed globals are plain factories, so cls.__new__(cls, *args) is a call.
        return this.call();
      case OP.BUILD:
        return this.build();
      case OP.BINPERSID:
        return this.push(this.options.persistentLoad(this.pop()), COST.made);
      default:
        this.fail(`unknown or unsupported opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }

  private global(module: string, name: string): void {
    const key = `${module}.${name}`;
    if (!this.options.globals.has(key)) {
      this.fail(
        `unsupported global ${printable(key)}: this safe loader only allows ${[...this.options.globals.keys()].join(', ')}`,
      );
    }
    this.push(this.options.globals.get(key));
  }

  private call(): void {
    const args = this.pop();
    const fn = this.pop();
    if (typeof fn !== 'function') this.fail('REDUCE/NEWOBJ on something that is not an allowed callable');
    if (!Array.isArray(args)) this.fail('REDUCE/NEWOBJ arguments are not a tuple');
    this.push((fn as PyCallable)(args), COST.made);
  }

  private build(): void {
    const state = this.pop();
    const obj = this.top(1);
    if (!this.options.build) this.fail('BUILD is not supported here');
    this.options.build(obj, state);
  }

  private append(items: unknown[]): void {
    const list = this.top(1);
    if (!Array.isArray(list)) this.fail('APPEND(S) on something that is not a list');
    // A loop, not push(...items): spreading a long batch overflows the call stack.
    for (const item of items) list.push(item);
  }

  private setItems(kv: unknown[]): void {
    const dict = this.top(1);
    if (!(dict instanceof Map)) this.fail('SETITEM(S) on something that is not a dict');
    if (kv.length % 2) this.fail('SETITEMS with an odd number of keys and values');
    this.charge((kv.length / 2) * COST.item);
    for (let i = 0; i < kv.length; i += 2) dict.set(kv[i], kv[i + 1]);
  }

  private put(i: number): void {
    const value = this.top(1);
    this.charge(COST.memo);
    this.memo.set(i, value);
  }

  private get(i: number): void {
    if (!this.memo.has(i)) this.fail(`memo entry ${i} was never stored`);
    this.push(this.memo.get(i));
  }

  /** Pushes a value: one stack slot plus `cost` units if it is newly built. */
  private push(v: unknown, cost = 0): void {
    this.charge(COST.slot + cost);
    this.stack.push(v);
  }

  private charge(units: number): void {
    this.units += units;
    if (this.units > MAX_UNITS) {
      this.fail(
        `the stream builds more than ${MAX_UNITS} units (~${(MAX_UNITS * 8) / 2 ** 20} MiB) of objects, ` +
          'far more than any state dict needs; refusing it',
      );
    }
  }

  private top(depth: number): unknown {
    if (this.stack.length - depth < (this.marks.at(-1) ?? 0)) this.fail('stack underflow');
    return this.stack[this.stack.length - depth];
  }

  private pop(): unknown {
    const v = this.top(1);
    this.stack.length--;
    return v;
  }

  private popN(n: number): unknown[] {
    this.top(n);
    return this.stack.splice(this.stack.length - n);
  }

  private popMark(): unknown[] {
    const mark = this.marks.pop();
    if (mark === undefined) this.fail('no MARK to pop to');
    return this.stack.splice(mark);
  }

  private u8(): number {
    return this.view.getUint8(this.skip(1));
  }

  /** Advances past n bytes and returns where they start. */
  private skip(n: number): number {
    const at = this.pos;
    if (at + n > this.bytes.byteLength) this.fail('truncated pickle stream');
    this.pos += n;
    return at;
  }

  private take(n: number): Uint8Array {
    const at = this.skip(n);
    return this.bytes.subarray(at, at + n);
  }

  private str(n: number): string {
    const raw = this.take(n);
    this.charge(n / 8);
    return this.utf8(raw);
  }

  private utf8(raw: Uint8Array): string {
    try {
      return utf8.decode(raw);
    } catch {
      this.fail('string is not valid UTF-8');
    }
  }

  /** A newline-terminated argument (GLOBAL's module and name), looked for only within MAX_LINE bytes. */
  private line(): string {
    const window = this.bytes.subarray(this.pos, this.pos + MAX_LINE + 1);
    const end = window.indexOf(0x0a);
    if (end < 0) {
      this.fail(
        window.length > MAX_LINE
          ? `GLOBAL argument longer than ${MAX_LINE} bytes`
          : 'truncated pickle stream',
      );
    }
    this.pos += end + 1;
    return this.utf8(window.subarray(0, end));
  }

  private fail(problem: string): never {
    throw new Error(`${this.options.where} byte ${this.opStart}: ${problem}`);
  }
}

/** Little-endian two's-complement, as LONG1 stores Python ints. */
function decodeLong(b: Uint8Array): number | bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b.length > 0 && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  const small = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER);
  return small ? Number(v) : v;
}
