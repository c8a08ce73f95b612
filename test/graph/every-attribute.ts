import { attr, Graph } from '../../src/graph/ir.js';
import { i64 } from '../../src/graph/tensor.js';

/** `y = Reshape(x, shape)` with an int64 initializer and one attribute of each scalar and list kind. */
export function everyAttributeGraph(): Graph {
  const g = new Graph();
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 4] });
  g.initializers.set('shape', i64([2], [-1, 2]));
  g.add('Reshape', ['x', 'shape'], {
    name: 'r',
    outputs: ['y'],
    attrs: {
      a: attr.int(3),
      b: attr.float(0.25),
      c: attr.ints([1, 2]),
      d: attr.floats([0.5]),
      e: attr.string('hi'),
    },
  });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', 2] });
  return g;
}
