#!/usr/bin/env node
// fleetwright <command> [flags]: one binary, one subcommand per process kind.
// Each command imports its own modules when it runs: a process loads only its own code (the controller has no
// use for Playwright, the gateway's proxy or the runner), which is tens of MiB of resident memory less.
import { cliCommands } from './cli/index.ts';
import { EXIT_FAILED, EXIT_USAGE, UsageError } from './runtime/usage.ts';

/** For the commands configured through their environment alone: an argument is a usage error, not ignored. */
function noArguments(name: string, args: string[]): void {
  if (args.length > 0) {
    throw new UsageError(`unexpected argument ${args[0]}: fleetwright ${name} takes none (see fleetwright ${name} --help)`);
  }
}

interface Command {
  summary: string;
  /** What follows the command's name in its usage line; `[flags]` when unset. */
  synopsis?: string;
  usage: () => string | Promise<string>;
  run: (args: string[]) => Promise<unknown>;
}

/** Every `fleetwright <command>`, by name (exported for the tests of their usage errors). */
export const commands: Record<string, Command> = {
  'controller': {
    summary: 'run the controllers (informers, workqueues, leader election, /metrics, /healthz, /readyz)',
    usage: async () => (await import('./controllers/config.ts')).usage(),
    run: async (args) => {
      const { parseControllerArgs } = await import('./controllers/config.ts');
      const { controllers, runControllerCommand } = await import('./controllers/process.ts');
      const config = parseControllerArgs(args);
      return runControllerCommand(config, controllers(config));
    },
  },
  'gateway': {
    summary: 'serve Tunnels: authenticate clients, lease each a browser, relay its WebSocket (/healthz, /readyz)',
    usage: async () => (await import('./gateway/config.ts')).gatewayUsage(),
    run: async (args) => {
      const { parseGatewayArgs } = await import('./gateway/config.ts');
      const { runGateway } = await import('./gateway/index.ts');
      return runGateway(parseGatewayArgs(args));
    },
  },
  'agent': {
    summary: 'serve one browser of a BrowserPool (the main process of a browser pod; set up by the pool controller)',
    usage: async () => (await import('./agent/index.ts')).usage(),
    run: async (args) => {
      noArguments('agent', args);
      await (await import('./agent/index.ts')).runAgent();
    },
  },
  'report-store': {
    summary: 'take shards\' Playwright reports, merge each finished TestRun\'s into one HTML report and serve it',
    usage: async () => (await import('./reports/config.ts')).reportStoreUsage(),
    run: async (args) => {
      const { parseReportStoreArgs } = await import('./reports/config.ts');
      const { runReportStore } = await import('./reports/index.ts');
      return runReportStore(parseReportStoreArgs(args));
    },
  },
  'runner': {
    summary: 'run one shard of a TestRun: playwright test [args] with the summary reporter (runner pods)',
    usage: async () => (await import('./runner/index.ts')).usage(),
    run: async (args) => process.exit(await (await import('./runner/index.ts')).runRunner(args)),
  },
  'fetch-source': {
    summary: 'fetch the commit a git-sourced TestRun is pinned to (the init container of its runner pods)',
    synopsis: '(no arguments: configured through the environment)',
    usage: async () => (await import('./runner/fetch-source.ts')).usage(),
    run: async (args) => {
      noArguments('fetch-source', args);
      process.exit(await (await import('./runner/fetch-source.ts')).runFetchSource());
    },
  },
  ...cliCommands,
};

const EXIT_CODES = [
  'exit codes:',
  '  0  done (run --follow: every test passed)',
  `  ${EXIT_FAILED}  the command failed (run --follow: tests failed or the run timed out)`,
  `  ${EXIT_USAGE}  the command line is wrong: an unknown command or flag, a missing argument, a bad value`,
  '  3  run --follow: the run could not be carried out (phase Error)',
];

function help(): string {
  const list = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return ['usage: fleetwright <command> [flags]', '', 'commands:', ...list, '', ...EXIT_CODES].join('\n');
}

if (import.meta.main) {
  const [name, ...args] = process.argv.slice(2);
  const command = name ? commands[name] : undefined;
  if (!command || args.includes('--help')) {
    console.error(command ? `usage: fleetwright ${name} ${command.synopsis ?? '[flags]'}\n\n${await command.usage()}` : help());
    process.exit(command || name === undefined || name === '--help' ? 0 : EXIT_USAGE);
  }
  try {
    await command.run(args);
  } catch (err) {
    console.error(`fleetwright ${name}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(err instanceof UsageError ? EXIT_USAGE : EXIT_FAILED);
  }
}
