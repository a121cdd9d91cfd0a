// The user-facing commands of `fleetwright` (src/main.ts adds them to its
// table): they talk to the user's cluster with the user's kubeconfig, as
// kubectl does, and never to pods directly.
import { helpText } from './flags.ts';
import { help as logsHelp, logsCommand } from './logs.ts';
import { help as runHelp, runCommand } from './run.ts';
import { help as sessionsHelp, sessionsCommand } from './sessions.ts';
import { help as statusHelp, statusCommand } from './status.ts';
import { help as tunnelHelp, tunnelCommand } from './tunnel.ts';

export interface CliCommand {
  summary: string;
  synopsis: string;
  usage: () => string;
  run: (args: string[]) => Promise<void>;
}

const exit = (code: number) => {
  // Leave once stdout has drained (a pipe in CI), with the command's own code.
  process.exitCode = code;
  process.stdout.write('', () => process.exit(code));
};

export const cliCommands: Record<string, CliCommand> = {
  run: {
    summary: 'run a local Playwright folder on a BrowserPool as a TestRun; --follow shows progress and exits as the tests did',
    synopsis: runHelp.synopsis,
    usage: () => helpText(runHelp),
    run: async (args) => exit(await runCommand(args, { out: process.stdout, tty: process.stdout.isTTY === true })),
  },
  status: {
    summary: 'list the BrowserPools, TestRuns (with progress) and Tunnels of a namespace',
    synopsis: statusHelp.synopsis,
    usage: () => helpText(statusHelp),
    run: async (args) => exit(await statusCommand(args, { out: process.stdout })),
  },
  logs: {
    summary: 'print the logs of a TestRun\'s runner pods',
    synopsis: logsHelp.synopsis,
    usage: () => helpText(logsHelp),
    run: async (args) => exit(await logsCommand(args, { out: process.stdout })),
  },
  tunnel: {
    summary: 'print a Playwright connect() snippet for a Tunnel (the token only with --print-token)',
    synopsis: tunnelHelp.synopsis,
    usage: () => helpText(tunnelHelp),
    run: async (args) => exit(await tunnelCommand(args, { out: process.stdout, err: process.stderr })),
  },
  sessions: {
    summary: 'list a Tunnel\'s recent sessions, their recordings and live views, from the report store',
    synopsis: sessionsHelp.synopsis,
    usage: () => helpText(sessionsHelp),
    run: async (args) => exit(await sessionsCommand(args, { out: process.stdout })),
  },
};
