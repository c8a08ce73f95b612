import type { z } from 'zod';

const show = (v: unknown) => (v === undefined ? 'nothing' : (JSON.stringify(v) ?? String(v)));

/**
 * A schema problem as the end of a one-line error: `must be <= 1 (got 2)`, `is missing`. `value` is
 * what was given at the issue's path.
 */
export function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  const got = ` (got ${show(value)})`;
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return 'is missing';
      return `must be ${issue.expected === 'int' ? 'a whole number' : `a ${issue.expected}`}${got}`;
    case 'too_big':
      return issue.origin === 'array'
        ? `must have at most ${issue.maximum} items${got}`
        : `must be ${issue.inclusive ? '<=' : '<'} ${issue.maximum}${got}`;
    case 'too_small':
      return issue.origin === 'array'
        ? `must have at least ${issue.minimum} items${got}`
        : issue.origin === 'string'
          ? `must not be empty${got}`
          : `must be ${issue.inclusive ? '>=' : '>'} ${issue.minimum}${got}`;
    case 'invalid_value':
      return `must be ${issue.values.length === 1 ? show(issue.values[0]) : `one of ${issue.values.map(show).join(', ')}`}${got}`;
    default:
      return `${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}${got}`;
  }
}

/** The value at a path of nested objects and arrays, or undefined where it runs out. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (v, k) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined),
    root,
  );
}
