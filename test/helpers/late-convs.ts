import type { Backbone } from '../../src/models/backbone.js';

/** A --targets regex for the last third of a backbone's convs, as a user names them for a file with no defaults. */
export function lateConvTargets(backbone: Backbone): string {
  const convs = backbone.graph.nodes.filter((n) => n.op === 'Conv').map((n) => n.name);
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return convs
    .slice(Math.floor((convs.length * 2) / 3))
    .map((n) => `^${escape(n)}$`)
    .join('|');
}
