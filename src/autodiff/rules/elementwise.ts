import type { RuleTable } from '../rule.js';

export const elementwiseRules: RuleTable = {};
