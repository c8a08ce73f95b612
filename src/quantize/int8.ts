import { attr, type Graph, type Node } from '../graph/ir.js';
import { fromOnnxBytes } from '../graph/onnx-import.js';
import { f32, type Tensor } from '../graph/tensor.js';
import { calibrate, type CalibrateOptions, type CalibrationBatches, type Range } from './calibrate.js';
import { planQdq, type PlanOptions, type QdqPlan } from './placement.js';
import { activationParams, quantizeBias, quantizeWeights, type ActivationParams } from './quant-params.js';

export interface Int8Options extends CalibrateOptions, PlanOptions {}

/**
 * Static int8 quantization in QDQ form: activation ranges calibrated on `batches` (normalised training
 * images; ORT's default is 128 of them), then QuantizeLinear/DequantizeLinear pairs as `planQdq` places
 * them. The file stays a float32-in, float32-out ONNX model any runtime reads; ORT's CPU provider fuses
 * the pairs into integer kernels when it builds the session.
 */
export async function toInt8(
  model: Graph | Uint8Array,
  batches: CalibrationBatches,
  opts: Int8Options = {},
): Promise<Graph> {
  const g = model instanceof Uint8Array ? fromOnnxBytes(model) : model;
  if (g.opset < 13)
    throw new Error(
      `int8: the model is opset ${g.opset}; per-channel QuantizeLinear/DequantizeLinear need opset 13 or later (re-export it)`,
    );
  const plan = planQdq(g, opts);
  const ranges = await calibrate(g, plan.calibrate, batches, opts);
  return insertQdq(g, plan, ranges);
}

/** Rewrites a copy of `g` with the plan's Q/DQ pairs, quantized weights and biases, and Relu/Clip folded. */
export function insertQdq(g: Graph, plan: QdqPlan, ranges: Map<string, Range>): Graph {
  const out = g.clone();
  const rangeOf = (v: string): Range => {
    let from = v;
    while (plan.sameAs.has(from)) from = plan.sameAs.get(from)!;
    const r = ranges.get(from);
    if (!r) throw new Error(`int8: no calibrated range for '${v}'`);
    return r;
  };

  const producers = out.producers();
  for (const name of plan.folded) {
    const act = out.node(name);
    producers.get(act.inputs[0])!.outputs[0] = act.outputs[0];
  }
  out.nodes = out.nodes.filter((n) => !plan.folded.has(n.name));

  const params = new Map<string, ActivationParams>();
  const dequantized = new Map<string, string>();
  const added: Node[] = [];
  const push = (op: string, inputs: string[], hint: string, attrs: Node['attrs'] = {}): string => {
    const name = out.fresh(hint);
    added.push({ name, op, inputs, outputs: [name], attrs });
    return name;
  };
  for (const v of plan.values) {
    const p = activationParams(rangeOf(v));
    params.set(v, p);
    const scale = out.constant(f32([], [p.scale]), `${v}.scale`);
    const zero = out.constant(
      { dtype: 'uint8', shape: [], data: Uint8Array.of(p.zeroPoint) },
      `${v}.zero_point`,
    );
    const q = push('QuantizeLinear', [v, scale, zero], `${v}.quantize`);
    dequantized.set(v, push('DequantizeLinear', [q, scale, zero], `${v}.dequantize`));
  }
  for (const n of out.nodes) n.inputs = n.inputs.map((i) => dequantized.get(i) ?? i);

  for (const n of out.nodes) {
    if (!plan.nodes.has(n.name) || (n.op !== 'Conv' && n.op !== 'Gemm')) continue;
    const w = out.initializers.get(n.inputs[1]) as Tensor<'float32'>;
    const { q, scales } = quantizeWeights(w);
    const perChannel = { axis: attr.int(0) };
    n.inputs[1] = push(
      'DequantizeLinear',
      [
        out.constant(q, `${n.name}.weight.int8`),
        out.constant(f32([scales.length], scales), `${n.name}.weight.scale`),
        out.constant(
          { dtype: 'int8', shape: [scales.length], data: new Int8Array(scales.length) },
          `${n.name}.weight.zero_point`,
        ),
      ],
      `${n.name}.weight.dequantize`,
      perChannel,
    );
    if (n.inputs[2]) {
      const input = g.nodes.find((m) => m.name === n.name)!.inputs[0];
      const b = quantizeBias(
        out.initializers.get(n.inputs[2]) as Tensor<'float32'>,
        params.get(input)!.scale,
        scales,
      );
      n.inputs[2] = push(
        'DequantizeLinear',
        [
          out.constant(b.q, `${n.name}.bias.int32`),
          out.constant(f32([b.scales.length], b.scales), `${n.name}.bias.scale`),
        ],
        `${n.name}.bias.dequantize`,
        perChannel,
      );
    }
  }
  out.nodes.push(...added);
  out.sort();
  out.prune();
  return out;
}
