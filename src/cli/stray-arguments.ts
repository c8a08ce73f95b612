import type { Command } from 'commander';

/**
 * Makes commander's "too many arguments" name the stray word, and the switch it follows: a user who
 * writes `--trivial-augment yes` learns that the switch takes no value, not only that something is extra.
 */
export function nameStrayArguments(program: Command): void {
  for (const cmd of program.commands) {
    if (cmd.registeredArguments.some((a) => a.variadic)) continue;
    cmd.allowExcessArguments(true).hook('preAction', (c) => {
      if (c.args.length <= c.registeredArguments.length) return;
      const stray = c.args[c.registeredArguments.length];
      const argv = process.argv;
      const before = argv[argv.lastIndexOf(stray) - 1];
      const flag = c.options.find((o) => o.long === before || o.short === before);
      throw new Error(
        flag && !flag.required && !flag.optional
          ? `${c.name()}: ${flag.long} is a switch and takes no value, but '${stray}' follows it: write ${flag.long} alone to turn it on, or leave it out`
          : `${c.name()}: unexpected argument '${stray}' (see smoker-lora ${c.name()} --help)`,
      );
    });
  }
}
