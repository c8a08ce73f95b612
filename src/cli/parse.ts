import { InvalidArgumentError } from 'commander';

/** Option parsers that reject bad values with a one-line message naming the option's value. */
export const parse = {
  int(min: number) {
    return (v: string): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min)
        throw new InvalidArgumentError(`'${v}' is not a whole number >= ${min}.`);
      return n;
    };
  },
  number(min: number, max = Infinity) {
    return (v: string): number => {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max)
        throw new InvalidArgumentError(`'${v}' is not a number in [${min}, ${max}].`);
      return n;
    };
  },
  /** A whole number >= min, or 'all' (Infinity). */
  intOrAll(min: number) {
    return (v: string): number => {
      const n = v === 'all' ? Infinity : Number(v);
      if (n !== Infinity && (!Number.isInteger(n) || n < min))
        throw new InvalidArgumentError(`'${v}' is not 'all' or a whole number >= ${min}.`);
      return n;
    };
  },
  list<T>(item: (v: string) => T) {
    return (v: string): T[] => v.split(',').map((s) => item(s.trim()));
  },
  /** A repeatable `<regex>=<n>` (split at the last '=', so the regex may hold one), collected by key. */
  pattern(min: number) {
    const int = parse.int(min);
    return (v: string, previous: Record<string, number> = {}): Record<string, number> => {
      const at = v.lastIndexOf('=');
      const key = v.slice(0, at);
      if (at < 1) throw new InvalidArgumentError(`'${v}' is not <regex>=<n>.`);
      try {
        new RegExp(key);
      } catch {
        throw new InvalidArgumentError(`'${key}' is not a regular expression.`);
      }
      return { ...previous, [key]: int(v.slice(at + 1)) };
    };
  },
  choice<T extends string>(choices: readonly T[]) {
    return (v: string): T => {
      if (!choices.includes(v as T))
        throw new InvalidArgumentError(`'${v}' is not one of ${choices.join(', ')}.`);
      return v as T;
    };
  },
};
