import type { Graph } from '../graph/ir.js';

/**
 * How a backbone wants its pixels: x' = (pixel/255 - mean)/std per RGB channel, after a bilinear resize
 * of the whole image (no crop) to `size` = [height, width].
 */
export interface Preprocess {
  size: [number, number];
  mean: [number, number, number];
  std: [number, number, number];
}

/** A frozen feature extractor the project puts its LoRA adapters and head on. */
export interface Backbone {
  /** 'resnet34', or the .onnx file path. */
  name: string;
  /** One input 'input' float32 [N,3,H,W] to one output 'features' float32 [N,F]; frozen weights are initializers. */
  graph: Graph;
  featureDim: number;
  /**
   * Frozen parameters as the source framework counts them: for a torchvision ResNet its
   * `model.parameters()` before BatchNorm folding, without `fc`; for an ONNX file the float initializer
   * elements the feature graph keeps.
   */
  parameterCount: number;
  /**
   * For each conv node that absorbed a BatchNorm, the per-output-channel factor γ/√(var+ε) it was
   * multiplied by. Whatever the source framework adds to that conv's output before its BatchNorm (PEFT's
   * LoRA wraps the conv, so B(A(x)) goes through BN) must be multiplied by it to compute the same function.
   */
  bnScales: Map<string, Float32Array>;
  preprocess: Preprocess;
}

/** torchvision's ImageNet normalisation at 224x224. */
export const IMAGENET_PREPROCESS: Preprocess = {
  size: [224, 224],
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};
