import type { RuleTable } from '../rule.js';

/** Every gradient rule, by ONNX op type. */
export const RULES: RuleTable = {};
