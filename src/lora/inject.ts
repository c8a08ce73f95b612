import { attr, type Graph, type Node } from '../graph/ir.js';
import { f32, i64, toFloat32, type Tensor } from '../graph/tensor.js';
import { isTarget, loraScaling, rankOf, type LoraConfig } from './config.js';
import { appendDoraFactor, magnitudeName, magnitudeShape } from './dora.js';

/** One adapted conv: where its A and B live in the graph and their shapes. */
export interface LoraSite {
  node: string;
  /** Names of the trainable graph inputs, `<node>.lora_A.weight` and `<node>.lora_B.weight`. */
  a: string;
  b: string;
  shapeA: [number, number, number, number];
  shapeB: [number, number, number, number];
  /** With DoRA, the trainable magnitude `<node>.lora_magnitude_vector`, [1, out, 1, 1]. */
  magnitude?: string;
}

interface ConvGeometry {
  strides: number[];
  pads: number[];
  dilations: number[];
}

function convGeometry(c: ConvGeometry) {
  return { strides: attr.ints(c.strides), pads: attr.ints(c.pads), dilations: attr.ints(c.dilations) };
}

/**
 * A(x) for a kxk stride-1 A as a 1x1 conv to every (rank, tap) pair, then a grouped conv with a fixed 0/1
 * kernel that adds each rank's k·k taps at their offsets: the same sums, but the heavy part is a plain
 * GEMM over the input channels instead of a kxk conv with only r outputs (MLAS's im2col path), and its
 * backward is MatMuls too. ResNet34's A convs and their gradients took 0.23 s of a 2.2 s step that way.
 */
function downByTaps(g: Graph, x: string, site: LoraSite, c: ConvGeometry, name: string): string {
  const [r, cin, kh, kw] = site.shapeA;
  const taps = kh * kw;
  const perm = g.op('Transpose', [site.a], { perm: attr.ints([0, 2, 3, 1]) }, `${name}.taps.transpose`);
  const shape = g.constant(i64([4], [r * taps, cin, 1, 1]), `${name}.taps.shape`);
  const weight = g.op('Reshape', [perm, shape], {}, `${name}.taps.weight`);
  const z = g.op('Conv', [x, weight], { kernel_shape: attr.ints([1, 1]) }, `${name}.taps`);
  const select = new Float32Array(r * taps * taps);
  for (let o = 0; o < r; o++) for (let t = 0; t < taps; t++) select[(o * taps + t) * taps + t] = 1;
  const kernel = g.constant(f32([r, taps, kh, kw], select), `${name}.select`);
  return g.op(
    'Conv',
    [z, kernel],
    { kernel_shape: attr.ints([kh, kw]), group: attr.int(r), ...convGeometry(c) },
    name,
  );
}

function convAttrs(node: Node) {
  const ints = (k: string, fallback: number[]) => {
    const a = node.attrs[k];
    return a?.kind === 'ints' ? a.value : fallback;
  };
  const group = node.attrs.group?.kind === 'int' ? node.attrs.group.value : 1;
  return {
    strides: ints('strides', [1, 1]),
    pads: ints('pads', [0, 0, 0, 0]),
    dilations: ints('dilations', [1, 1]),
    group,
  };
}

/**
 * Output-channel factor of a site's branch: alpha/r, times γ/√(var+ε) where the base conv had a BatchNorm
 * folded into it, since PEFT adapts the conv before its BatchNorm.
 */
export function branchScale(cfg: LoraConfig, site: LoraSite, bnScale?: Float32Array): Float32Array {
  const cout = site.shapeB[0];
  const s = new Float32Array(cout).fill(loraScaling(cfg, site.shapeA[0]));
  if (bnScale) for (let o = 0; o < cout; o++) s[o] *= bnScale[o];
  return s;
}

/**
 * A grouped (say depthwise) conv adapted in its own weight space: W + B·A·scale with A [r, in/g·k·k] and
 * B [out, r], so the update merges into W exactly. PEFT's grouped LoRA (a dense kxk A over every input
 * channel, a grouped B, r a multiple of the groups) is no update of W at all, so PEFT cannot merge it,
 * and on a depthwise conv it would need r ≥ its channel count. One conv with the summed weight is also
 * cheaper than a branch of r maps per channel.
 */
function adaptWeight(g: Graph, node: Node, site: LoraSite, w: Tensor, scaledB: string): void {
  const [r] = site.shapeA;
  const [cout] = site.shapeB;
  const rows = (x: string, n: number, what: string) =>
    g.op('Reshape', [x, g.constant(i64([2], [n, -1]), `${what}.rows.shape`)], {}, `${what}.rows`);
  const update = g.op(
    'MatMul',
    [rows(scaledB, cout, site.b), rows(site.a, r, site.a)],
    {},
    `${node.name}.lora_update`,
  );
  const shape = g.constant(i64([4], w.shape), `${node.name}.lora_update.shape`);
  const delta = g.op('Reshape', [update, shape], {}, `${node.name}.lora_delta`);
  node.inputs[1] = g.op('Add', [node.inputs[1], delta], {}, `${node.name}.lora_weight`);
}

/**
 * Adds a LoRA branch beside every targeted Conv, in the PEFT convention: A is a kxk conv in->r with the
 * base conv's stride and padding, B a 1x1 conv r->out, and out = base(x) + B(A(x))·alpha/r. A and B become
 * graph inputs, so one compiled session serves every training step. The scaling (with any folded
 * BatchNorm factor, see `branchScale`) multiplies B, a few thousand numbers, rather than the activation map.
 * With DoRA the sum is rescaled per channel by m/n before the bias (see dora.ts). Grouped convs are
 * adapted in their weight space instead (`adaptWeight`).
 */
export function injectLora(
  g: Graph,
  cfg: LoraConfig,
  bnScales: ReadonlyMap<string, Float32Array> = new Map(),
): LoraSite[] {
  for (const r of [cfg.r, ...Object.values(cfg.rankPattern ?? {})])
    if (!Number.isInteger(r) || r < 1) throw new Error(`lora: rank must be a positive integer, got ${r}`);
  checkRank(g, cfg);
  const sites: LoraSite[] = [];
  for (const node of [...g.nodes]) {
    if (node.op !== 'Conv' || !isTarget(cfg, node.name)) continue;
    const w = g.initializers.get(node.inputs[1]);
    if (!w)
      throw new Error(
        `lora: target '${node.name}' has a computed weight; only convs with frozen weights can be adapted`,
      );
    const [cout, cin, kh, kw] = w.shape;
    const { strides, pads, dilations, group } = convAttrs(node);
    if (group !== 1 && cfg.dora)
      throw new Error(
        `lora: target '${node.name}' is a grouped conv (group ${group}), which DoRA does not adapt here; leave it out of --targets or drop --dora`,
      );
    const r = rankOf(cfg, node.name);
    const site: LoraSite = {
      node: node.name,
      a: `${node.name}.lora_A.weight`,
      b: `${node.name}.lora_B.weight`,
      shapeA: [r, cin, kh, kw],
      shapeB: [cout, r, 1, 1],
      ...(cfg.dora && { magnitude: magnitudeName(node.name) }),
    };
    g.inputs.push(
      { name: site.a, dtype: 'float32', shape: site.shapeA },
      { name: site.b, dtype: 'float32', shape: site.shapeB },
    );
    if (site.magnitude)
      g.inputs.push({ name: site.magnitude, dtype: 'float32', shape: magnitudeShape(cout) });

    const bnScale = bnScales.get(node.name);
    const scale = g.constant(
      f32([cout, 1, 1, 1], branchScale(cfg, site, bnScale)),
      `${node.name}.lora.scaling`,
    );
    const scaledB = g.op('Mul', [site.b, scale], {}, `${node.name}.lora_B.scaled`);
    sites.push(site);
    if (group !== 1) {
      adaptWeight(g, node, site, w, scaledB);
      continue;
    }
    const out = node.outputs[0];
    const baseOut = g.fresh(`${node.name}.base`);
    node.outputs[0] = baseOut;
    const geometry = { strides, pads, dilations };
    const down =
      kh * kw > 1 && strides.every((s) => s === 1)
        ? downByTaps(g, node.inputs[0], site, geometry, `${node.name}.lora_A`)
        : g.op(
            'Conv',
            [node.inputs[0], site.a],
            { kernel_shape: attr.ints([kh, kw]), ...convGeometry(geometry) },
            `${node.name}.lora_A`,
          );
    const up = g.op('Conv', [down, scaledB], { kernel_shape: attr.ints([1, 1]) }, `${node.name}.lora_B`);
    if (site.magnitude) {
      const factor = appendDoraFactor(g, node.name, toFloat32(w), site.a, scaledB, site.magnitude, bnScale);
      addDora(g, node, up, factor, out);
    } else g.add('Add', [baseOut, up], { name: `${node.name}.lora_add`, outputs: [out] });
  }
  if (sites.length === 0)
    throw new Error(`lora: no Conv node matches targets ${JSON.stringify(cfg.targets)}`);
  g.sort();
  return sites;
}

/** out = factor·(conv(x, W) + up) + bias: the base conv loses its bias, which goes after the rescale. */
function addDora(g: Graph, node: Node, up: string, factor: string, out: string): void {
  const [, , bias] = node.inputs;
  node.inputs = node.inputs.slice(0, 2);
  const sum = g.op('Add', [node.outputs[0], up], {}, `${node.name}.lora_add`);
  if (!bias) {
    g.add('Mul', [sum, factor], { name: `${node.name}.dora_scale`, outputs: [out] });
    return;
  }
  const scaled = g.op('Mul', [sum, factor], {}, `${node.name}.dora_scale`);
  const axes = g.constant(i64([2], [1, 2]), `${node.name}.bias.axes`);
  const channels = g.op('Unsqueeze', [bias, axes], {}, `${node.name}.bias.nchw`);
  g.add('Add', [scaled, channels], { name: `${node.name}.dora_bias`, outputs: [out] });
}

/**
 * Refuses a rank above what any target can use, before anything is allocated: B·A of a conv with
 * `out` output channels over `in`·k·k inputs (per group) has rank at most min(out, in·k·k), so a
 * larger r only adds parameters (and memory) that cannot change the function.
 */
function checkRank(g: Graph, cfg: LoraConfig): void {
  for (const node of g.nodes) {
    if (node.op !== 'Conv' || !isTarget(cfg, node.name)) continue;
    const shape = g.initializers.get(node.inputs[1])?.shape;
    if (!shape) continue;
    const [cout, cin, kh, kw] = shape;
    const most = Math.min(cout, cin * kh * kw);
    const r = rankOf(cfg, node.name);
    if (r > most)
      throw new Error(
        `lora: rank ${r} is above what target '${node.name}' can use: its update is ${cout}x${cin * kh * kw}, so its rank is at most ${most}; ${r === cfg.r ? `pass --rank ${most} or less, or give it its own rank with --rank-pattern` : `give it a rank of ${most} or less in --rank-pattern`}`,
      );
  }
}
