// The faults scenarios of issue 9 at their full sizes: test/node/faults.test.ts,
// which CI runs with 4 TestRuns and 4 sessions, here with 30 TestRuns of 2 shards
// and 50 Tunnel sessions open while each fault lands.
//
//   npm run bench:faults [-- --runs=30 --sessions=50 --run-browsers=6]
//
// The same assertions as the test (every run final with a direct run's counts,
// no shard twice, sessions alive, no browser left leased), on the real node of
// hack/. Prints one JSON object: for each fault step, whether it held and how
// long it took. A benchmark, not a test: nothing here asserts a time.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../hack/lib/paths.ts';

const { values: flags } = parseArgs({
  options: {
    'runs': { type: 'string', default: '30' },
    'sessions': { type: 'string', default: '50' },
    'run-browsers': { type: 'string', default: '6' },
  },
});

interface VitestReport {
  testResults: {
    assertionResults: { title: string; status: string; duration?: number; failureMessages: string[] }[];
    message?: string;
  }[];
}

const out = mkdtempSync(join(tmpdir(), 'fleetwright-bench-faults-'));
const reportFile = join(out, 'report.json');
const started = Date.now();
try {
  // vitest's own output goes to stderr, so that stdout holds only the JSON.
  const vitest = spawnSync('npx', [
    'vitest', 'run', '--project', 'node', 'test/node/faults.test.ts',
    '--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`,
  ], {
    cwd: repoRoot,
    stdio: ['ignore', process.stderr, process.stderr],
    env: {
      ...process.env,
      FLEETWRIGHT_FAULTS_RUNS: flags.runs,
      FLEETWRIGHT_FAULTS_SESSIONS: flags.sessions,
      FLEETWRIGHT_FAULTS_RUN_BROWSERS: flags['run-browsers'],
    },
  });
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as VitestReport;
  const file = report.testResults[0];
  console.log(JSON.stringify({
    cpus: cpus().length,
    sizes: {
      testRuns: Number(flags.runs), shardsPerRun: 2, runBrowsers: Number(flags['run-browsers']),
      sessions: Number(flags.sessions),
    },
    held: vitest.status === 0,
    setupError: file?.message || undefined,
    steps: file?.assertionResults.map((t) => ({
      step: t.title,
      status: t.status,
      seconds: Math.round((t.duration ?? 0) / 100) / 10,
      failure: t.failureMessages[0]?.split('\n')[0],
    })),
    totalSeconds: Math.round((Date.now() - started) / 1000),
  }, null, 2));
} finally {
  rmSync(out, { recursive: true, force: true });
}
