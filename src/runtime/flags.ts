// Flags of every `fleetwright` command, declared one way and shown one way:
// a table of node:util parseArgs options, each with its help line (and, for
// a flag with a value, what to call the value in the help).
import type { ParseArgsConfig } from 'node:util';
import { parseCommandLine, UsageError } from './usage.ts';

type OptionConfig = NonNullable<ParseArgsConfig['options']>[string];

/** One flag: parseArgs reads type, short, default and multiple; help and value only feed the help text. */
export type FlagSpec = OptionConfig & { help: string; value?: string };
export type FlagTable = Record<string, FlagSpec>;

/**
 * A command's flags, one line each: `  --name <value>   help (default d)`,
 * with a column for one-letter forms (`-n, `) when `shorts` is set.
 */
export function flagLines(flags: FlagTable, options: { shorts?: boolean } = {}): string[] {
  const label = (name: string, f: FlagSpec) => `${name}${f.value ? ` <${f.value}>` : ''}`;
  const width = Math.max(22, ...Object.entries(flags).map(([name, f]) => label(name, f).length + 1));
  return Object.entries(flags).map(([name, f]) => {
    const short = options.shorts ? (f.short ? `-${f.short}, ` : '    ') : '';
    const fallback = f.default === undefined ? '' : ` (default ${String(f.default)})`;
    return `  ${short}--${label(name, f).padEnd(width)} ${f.help}${fallback}`;
  });
}

/**
 * parseArgs over `command`'s flag table: an unknown flag, a missing value and (unless allowed) a positional are
 * UsageErrors that name the command's --help.
 */
export function parseFlags<T extends FlagTable, P extends boolean = false>(
  command: string,
  args: string[],
  flags: T,
  allowPositionals?: P,
) {
  const positionals = (allowPositionals ?? false) as P;
  return parseCommandLine(command, { args, options: flags, strict: true, allowPositionals: positionals });
}

/** `15s`, `500ms`, `1m`, `1.5s` (Go's time.ParseDuration for the units flags use) to milliseconds. */
export function parseDuration(value: string, flag: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value);
  if (!match) throw new UsageError(`${flag}=${value}: expected a duration such as 500ms, 15s or 1m`);
  return Number(match[1]) * (units[match[2] as string] as number);
}

/** The flags every server process (controller, gateway, report store) takes alike. */
export const serverFlags = {
  kubeconfig: { type: 'string', help: 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)' },
  logLevel: { type: 'string', default: 'info', help: 'debug, info, warn or error' },
} as const satisfies FlagTable;
