#!/usr/bin/env node
// fleetwright <command> [flags]: one binary, one subcommand per process kind.
import { runAgent, usage as agentUsage } from './agent/index.ts';
import { cliCommands } from './cli/index.ts';
import { parseControllerArgs, usage } from './controllers/config.ts';
import { controllers, runControllerCommand } from './controllers/process.ts';
import { gatewayUsage, parseGatewayArgs } from './gateway/config.ts';
import { runGateway } from './gateway/index.ts';
import { parseReportStoreArgs, reportStoreUsage } from './reports/config.ts';
import { runReportStore } from './reports/index.ts';
import { runFetchSource, usage as fetchSourceUsage } from './runner/fetch-source.ts';
import { runRunner, usage as runnerUsage } from './runner/index.ts';
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
  usage: () => string;
  run: (args: string[]) => Promise<unknown>;
}

/** Every `fleetwright <command>`, by name (exported for the tests of their usage errors). */
export const commands: Record<string, Command> = {
  'controller': {
    summary: 'run the controllers (informers, workqueues, leader election, /metrics, /healthz, /readyz)',
    usage,
    run: (args) => {
      const config = parseControllerArgs(args);
      return runControllerCommand(config, controllers(config));
    },
  },
  'gateway': {
    summary: 'serve Tunnels: authenticate clients, lease each a browser, relay its WebSocket (/healthz, /readyz)',
    usage: gatewayUsage,
    run: (args) => runGateway(parseGatewayArgs(args)),
  },
  'agent': {
    summary: 'serve one browser of a BrowserPool (the main process of a browser pod; set up by the pool controller)',
    usage: agentUsage,
    run: async (args) => {
      noArguments('agent', args);
      await runAgent();
    },
  },
  'report-store': {
    summary: 'take shards\' Playwright reports, merge each finished TestRun\'s into one HTML report and serve it',
    usage: reportStoreUsage,
    run: (args) => runReportStore(parseReportStoreArgs(args)),
  },
  'runner': {
    summary: 'run one shard of a TestRun: playwright test [args] with the summary reporter (runner pods)',
    usage: runnerUsage,
    run: async (args) => process.exit(await runRunner(args)),
  },
  'fetch-source': {
    summary: 'fetch the commit a git-sourced TestRun is pinned to (the init container of its runner pods)',
    synopsis: '(no arguments: configured through the environment)',
    usage: fetchSourceUsage,
    run: async (args) => {
      noArguments('fetch-source', args);
      process.exit(await runFetchSource());
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
    console.error(command ? `usage: fleetwright ${name} ${command.synopsis ?? '[flags]'}\n\n${command.usage()}` : help());
    process.exit(command || name === undefined || name === '--help' ? 0 : EXIT_USAGE);
  }
  try {
    await command.run(args);
  } catch (err) {
    console.error(`fleetwright ${name}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(err instanceof UsageError ? EXIT_USAGE : EXIT_FAILED);
  }
}
