// Flags every CLI command shares, and the shape of a command's help.
import { flagLines, type FlagTable, parseFlags as parseFlagTable } from '../runtime/flags.ts';
import { UsageError } from '../runtime/usage.ts';
import type { KubeFlags } from './kube.ts';

/** kubectl's: where the cluster is and which namespace. */
export const kubeFlags = {
  kubeconfig: { type: 'string', value: 'file', help: 'kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)' },
  context: { type: 'string', value: 'name', help: 'kubeconfig context (default: its current-context)' },
  namespace: { type: 'string', short: 'n', value: 'name', help: 'namespace (default: the context\'s, else default)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const satisfies FlagTable;

export interface CommandHelp {
  synopsis: string;
  description: string;
  flags: FlagTable;
  examples?: string[];
}

/** The text `--help` prints after `usage: fleetwright <command> <synopsis>`. */
export function helpText(help: CommandHelp): string {
  const list = (flags: FlagTable) => flagLines(flags, { shorts: true });
  const own = Object.keys(help.flags).length > 0 ? ['', 'flags:', ...list(help.flags)] : [];
  const examples = help.examples?.length ? ['', 'examples:', ...help.examples.map((e) => `  ${e}`)] : [];
  return [help.description, ...own, '', 'cluster flags (as kubectl\'s):', ...list(kubeFlags), ...examples].join('\n');
}

export type FlagValues = Record<string, string | boolean | undefined>;

/** parseArgs with the kube flags added, and errors that name the command's --help. */
export function parseFlags(command: string, args: string[], flags: FlagTable) {
  const parsed = parseFlagTable(command, args, { ...kubeFlags, ...flags } as FlagTable, true);
  return { values: parsed.values as FlagValues, positionals: parsed.positionals };
}

/** A string flag's value. */
export const stringFlag = (values: FlagValues, name: string) =>
  typeof values[name] === 'string' ? values[name] : undefined;

export function kubeFlagsOf(values: FlagValues): KubeFlags {
  const str = (name: string) => stringFlag(values, name);
  return { kubeconfig: str('kubeconfig'), context: str('context'), namespace: str('namespace') };
}

/** A whole number within [min, max], or a UsageError naming the flag. */
export function intFlag(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new UsageError(`--${flag}=${value}: expected a whole number from ${min} to ${max}`);
  }
  return n;
}
