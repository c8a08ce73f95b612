import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, type Attr, type Node } from '../../src/graph/ir.js';
import { floatAttr, intAttr, intsAttr, stringAttr } from '../../src/autodiff/rules/util.js';

const node = (attrs: Record<string, Attr>): Node => ({
  name: 'n1',
  op: 'Gemm',
  inputs: [],
  outputs: [],
  attrs,
});

test('attribute readers return the value, or the fallback when absent', () => {
  const n = node({ a: attr.int(2), b: attr.float(0.5), c: attr.ints([1, 2]), d: attr.string('x') });
  assert.equal(intAttr(n, 'a', 7), 2);
  assert.equal(intAttr(n, 'z', 7), 7);
  assert.equal(floatAttr(n, 'b', 1), 0.5);
  assert.equal(floatAttr(n, 'z', 1), 1);
  assert.deepEqual(intsAttr(n, 'c'), [1, 2]);
  assert.equal(intsAttr(n, 'z'), undefined);
  assert.equal(stringAttr(n, 'd', 'y'), 'x');
  assert.equal(stringAttr(n, 'z', 'y'), 'y');
});

test('attribute readers reject an attribute of the wrong kind, naming the node', () => {
  const n = node({ alpha: attr.int(1), transA: attr.float(1), perm: attr.int(0), auto_pad: attr.int(0) });
  assert.throws(() => floatAttr(n, 'alpha', 1), /Gemm 'n1' attribute alpha is not a float/);
  assert.throws(() => intAttr(n, 'transA', 0), /Gemm 'n1' attribute transA is not an int/);
  assert.throws(() => intsAttr(n, 'perm'), /Gemm 'n1' attribute perm is not ints/);
  assert.throws(() => stringAttr(n, 'auto_pad', 'NOTSET'), /Gemm 'n1' attribute auto_pad is not a string/);
});
