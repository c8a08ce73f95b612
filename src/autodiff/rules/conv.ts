import type { RuleTable } from '../rule.js';

export const convRules: RuleTable = {};
