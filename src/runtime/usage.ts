// A command line that is wrong, told apart from a command that ran and
// failed: `fleetwright` exits 2 for the first and 1 for the second, as Go's
// flag package (flag.ExitOnError) and pflag-based tools such as the
// kubebuilder controllers exit 2 on a bad flag, and grep and diff on trouble.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** The command ran and failed (for `run --follow`: tests failed). */
export const EXIT_FAILED = 1;
/** The command line is wrong: nothing was done. */
export const EXIT_USAGE = 2;

/** An unknown flag, a missing argument or a bad value: `fleetwright` exits EXIT_USAGE. */
export class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UsageError';
  }
}

/** node:util's parseArgs; its errors (unknown flag, missing value, stray argument) become UsageErrors naming --help. */
export function parseCommandLine<T extends ParseArgsConfig>(
  command: string,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)} (see fleetwright ${command} --help)`, { cause: err });
  }
}
