import type { RuleTable } from '../rule.js';

export const poolRules: RuleTable = {};
