import type { RuleTable } from '../rule.js';
import { batchNormRules } from './batchnorm.js';
import { convRules } from './conv.js';
import { elementwiseRules } from './elementwise.js';
import { layerNormRules } from './layernorm.js';
import { linearRules } from './linear.js';
import { poolRules } from './pool.js';
import { shapeRules } from './shape.js';
import { softmaxRules } from './softmax.js';

/** Every gradient rule, by ONNX op type. */
export const RULES: RuleTable = {
  ...convRules,
  ...batchNormRules,
  ...poolRules,
  ...elementwiseRules,
  ...layerNormRules,
  ...linearRules,
  ...shapeRules,
  ...softmaxRules,
};
