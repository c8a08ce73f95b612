import type { Graph, Node } from '../graph/ir.js';
import { onnxDataType } from '../graph/onnx-dtypes.js';

/**
 * Where QuantizeLinear/DequantizeLinear pairs go, following ORT's static quantizer for its CPU provider.
 * Quantized are the ops ORT fuses with the pairs around them into integer kernels at optimisation level
 * 'extended' and up: Conv → QLinearConv, Gemm → QGemm, Add → QLinearAdd, MaxPool → uint8 MaxPool.
 * GlobalAveragePool's input is quantized too, so that the conv before it ends in a QuantizeLinear and
 * fuses; the pooling itself then runs in float on the dequantized values, which keeps the features
 * output float. Every other op stays float and reads dequantized values.
 */
export interface QdqPlan {
  /** Names of the nodes whose activation inputs are quantized (and weights and biases, for Conv/Gemm). */
  nodes: Set<string>;
  /** Activation values that get a Q/DQ pair, in graph order. */
  values: string[];
  /**
   * Relu and Clip(0, max) nodes to remove, as ORT's quantizer does: their producer's quantized uint8 output
   * with zero point 0 saturates at 0 and at the calibrated max, which is their work.
   */
  folded: Set<string>;
  /** Values that take another value's quantization (MaxPool's output its input's, so ORT can drop the pair). */
  sameAs: Map<string, string>;
  /** The values whose ranges calibration must measure: `values` without those in `sameAs`. */
  calibrate: string[];
}

/** Ops that pass their input's values through unchanged, so a classifier may sit behind them. */
const PASS_THROUGH = new Set(['Flatten', 'Reshape', 'Identity', 'Squeeze', 'Unsqueeze']);

export interface PlanOptions {
  /**
   * Quantize the classifier head too: the Conv/Gemm nodes a graph output reads through pass-through ops only.
   * Off by default: the head is a tiny share of the work and its error goes straight to the logits.
   */
  quantizeHead?: boolean;
}

export function planQdq(g: Graph, opts: PlanOptions = {}): QdqPlan {
  const isConst = (v: string) => g.initializers.has(v);
  const floatConst = (v: string) => g.initializers.get(v)?.dtype === 'float32';
  const head = headNodes(g);
  const integral = integralValues(g);
  const activationInputs = (n: Node): string[] | undefined => {
    switch (n.op) {
      case 'Conv':
        return floatConst(n.inputs[1]) && (!n.inputs[2] || floatConst(n.inputs[2])) && !isConst(n.inputs[0])
          ? [n.inputs[0]]
          : undefined;
      case 'Gemm': {
        const a = n.attrs;
        const plain =
          a.transB?.value === 1 &&
          !a.transA?.value &&
          (a.alpha?.value ?? 1) === 1 &&
          (a.beta?.value ?? 1) === 1 &&
          floatConst(n.inputs[1]) &&
          (!n.inputs[2] || (floatConst(n.inputs[2]) && g.initializers.get(n.inputs[2])!.shape.length === 1));
        return plain && !isConst(n.inputs[0]) ? [n.inputs[0]] : undefined;
      }
      case 'Add':
        return n.inputs.every((i) => !isConst(i) && !integral.has(i)) ? [...n.inputs] : undefined;
      case 'GlobalAveragePool':
        return [n.inputs[0]];
      case 'MaxPool':
        return n.outputs.length === 1 ? [n.inputs[0]] : undefined;
      default:
        return undefined;
    }
  };

  const nodes = new Set<string>();
  const values: string[] = [];
  for (const n of g.nodes) {
    const inputs = activationInputs(n);
    if (!inputs || (head.has(n.name) && !opts.quantizeHead)) continue;
    nodes.add(n.name);
    for (const v of inputs) if (!values.includes(v)) values.push(v);
  }
  const quantized = new Set(values);

  const sameAs = new Map<string, string>();
  for (const n of g.nodes)
    if (n.op === 'MaxPool' && nodes.has(n.name) && quantized.has(n.outputs[0]))
      sameAs.set(n.outputs[0], n.inputs[0]);

  const producers = g.producers();
  const consumers = g.consumers();
  const graphOutputs = new Set(g.outputs.map((o) => o.name));
  const folded = new Set<string>();
  for (const n of g.nodes) {
    const clampsAtZero =
      n.op === 'Relu' ||
      (n.op === 'Clip' &&
        isZeroScalar(g, n.inputs[1]) &&
        (!n.inputs[2] || g.initializers.get(n.inputs[2])?.dtype === 'float32'));
    const src = producers.get(n.inputs[0]);
    if (
      clampsAtZero &&
      src &&
      ['Conv', 'Gemm', 'Add'].includes(src.op) &&
      nodes.has(src.name) &&
      quantized.has(n.outputs[0]) &&
      !graphOutputs.has(n.outputs[0]) &&
      !graphOutputs.has(n.inputs[0]) &&
      consumers.get(n.inputs[0])?.length === 1
    )
      folded.add(n.name);
  }
  return { nodes, values, folded, sameAs, calibrate: values.filter((v) => !sameAs.has(v)) };
}

const INTEGER_TYPES = new Set((['int64', 'int32', 'int8', 'uint8'] as const).map(onnxDataType));

/**
 * The integer values of a graph's shape arithmetic (torch exports compute Slice bounds and Reshape
 * shapes from Shape): int initializers and Constant nodes, Shape and Size outputs, casts to an integer
 * type, and whatever a node computes from integer values alone. An Add of two of them is no activation to quantize.
 */
function integralValues(g: Graph): Set<string> {
  const constants = [...g.initializers, ...g.constantNodeValues()];
  const integral = new Set(constants.filter(([, t]) => t.dtype.includes('int')).map(([n]) => n));
  for (const n of g.nodes) {
    const fromInts = n.inputs.length > 0 && n.inputs.every((i) => !i || integral.has(i));
    const int =
      n.op === 'Shape' ||
      n.op === 'Size' ||
      (n.op === 'Cast' ? INTEGER_TYPES.has(Number(n.attrs.to?.value)) : fromInts);
    if (int) for (const o of n.outputs) integral.add(o);
  }
  return integral;
}

function isZeroScalar(g: Graph, name: string | undefined): boolean {
  const t = name ? g.initializers.get(name) : undefined;
  return !!t && t.dtype === 'float32' && t.data.length === 1 && t.data[0] === 0;
}

/** Conv/Gemm nodes whose output reaches a graph output through pass-through ops only. */
function headNodes(g: Graph): Set<string> {
  const producers = g.producers();
  const heads = new Set<string>();
  const visit = (value: string) => {
    const p = producers.get(value);
    if (!p) return;
    if (PASS_THROUGH.has(p.op)) visit(p.inputs[0]);
    else if (p.op === 'Conv' || p.op === 'Gemm') heads.add(p.name);
  };
  for (const o of g.outputs) visit(o.name);
  return heads;
}
