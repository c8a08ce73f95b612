import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unpickle, type UnpickleOptions } from '../../src/weights/pickle.js';
import { PickleAsm } from './pickle-asm.js';

const none: UnpickleOptions = {
  where: 'x.pkl',
  globals: new Map(),
  persistentLoad: () => assert.fail('no persistent ids expected'),
};

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

// CPython's pickle.dumps of this list, at protocol 2 and 4 (FRAME, MEMOIZE, SHORT_BINUNICODE).
const pythonValue = [
  0,
  255,
  256,
  65535,
  65536,
  -1,
  -(2 ** 31),
  2 ** 31,
  2n ** 53n,
  -(2n ** 70n),
  1.5,
  -0,
  'héllo ✓',
  '',
  null,
  true,
  false,
  [],
  [1],
  [1, 2],
  [1, 2, 3],
  [1, 2, 3, 4],
  new Map<unknown, unknown>([
    ['a', [1]],
    [2, 'b'],
  ]),
];
const protocol2 =
  '80025d7100284b004bff4d00014dffff4a000001004affffffff4a000000808a0500000080008a070000000000002' +
  '08a090000000000000000c0473ff8000000000000478000000000000000580a00000068c3a96c6c6f20e29c937101' +
  '580000000071024e8889294b018571034b014b028671044b014b024b03877105284b014b024b034b0474710' +
  '67d71072858010000006171085d71094b01614b02580100000062710a75652e';
const protocol4 =
  '8004958f000000000000005d94284b004bff4d00014dffff4a000001004affffffff4a000000808a05000000800' +
  '08a07000000000000208a090000000000000000c0473ff80000000000004780000000000000008c0a68c3a96c6c6f' +
  '20e29c93948c00944e8889294b0185944b014b0286944b014b024b038794284b014b024b034b0474947d94288c' +
  '0161945d944b01614b028c01629475652e';

test('decodes what CPython pickles at protocols 2 and 4', () => {
  assert.deepEqual(unpickle(hex(protocol2), none), pythonValue);
  assert.deepEqual(unpickle(hex(protocol4), none), pythonValue);
});

test('the memo shares objects like Python does', () => {
  // x = [1]; pickle.dumps([x, x], protocol=2)
  const [a, b] = unpickle(hex('80025d7100285d71014b01616801652e'), none) as unknown[][];
  assert.equal(a, b);
  assert.deepEqual(a, [1]);
});

test('allowed globals are called by REDUCE, and STACK_GLOBAL resolves them too', () => {
  // pickle.dumps(collections.OrderedDict(a=1), protocol=4)
  const bytes = hex(
    '80049529000000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294' +
      '8c0161944b01732e',
  );
  const globals = new Map([['collections.OrderedDict', () => new Map()]]);
  assert.deepEqual(unpickle(bytes, { ...none, globals }), new Map([['a', 1]]));
});

test('a GLOBAL off the allow-list is rejected before anything is called', () => {
  // The classic exploit: os.system('echo pwned').
  const bytes = new PickleAsm()
    .proto()
    .global('os', 'system')
    .str('echo pwned')
    .raw(0x85)
    .op('R')
    .op('.')
    .bytes();
  const globals = new Map([['collections.OrderedDict', () => new Map()]]);
  assert.throws(
    () => unpickle(bytes, { ...none, globals }),
    /^Error: x\.pkl byte 2: unsupported global os\.system: this safe loader only allows collections\.OrderedDict$/,
  );
});

test('malformed streams fail with the byte offset', () => {
  const bad = (asm: PickleAsm) => () => unpickle(asm.bytes(), none);
  assert.throws(
    bad(new PickleAsm().proto().raw(0xff)),
    /^Error: x\.pkl byte 2: unknown or unsupported opcode 0xff$/,
  );
  assert.throws(
    bad(new PickleAsm().proto().op('X').raw(9, 0, 0, 0, 0x61)),
    /byte 2: truncated pickle stream/,
  );
  assert.throws(bad(new PickleAsm().proto().op('h').raw(3)), /byte 2: memo entry 3 was never stored/);
  assert.throws(bad(new PickleAsm().proto().op('t')), /byte 2: no MARK to pop to/);
  assert.throws(bad(new PickleAsm().proto().op('.')), /byte 2: stack underflow/);
  assert.throws(bad(new PickleAsm().proto().op(')').op(')').op('b')), /byte 4: BUILD is not supported here/);
  assert.throws(
    bad(new PickleAsm().proto().op(')').op(')').op('R')),
    /REDUCE\/NEWOBJ on something that is not/,
  );
});
