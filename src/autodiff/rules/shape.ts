import type { RuleTable } from '../rule.js';

export const shapeRules: RuleTable = {};
