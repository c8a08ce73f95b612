import type { RuleTable } from '../rule.js';

export const linearRules: RuleTable = {};
