import type { RuleTable } from '../rule.js';

export const softmaxRules: RuleTable = {};
