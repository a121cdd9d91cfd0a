// actionlint over .github/workflows, with shellcheck for their `run:` scripts
// (actionlint skips that check silently when shellcheck is missing, so its
// absence fails here instead).
import { spawnSync } from 'node:child_process';
import { repoRoot } from './lib/paths.ts';
import { ensureActionlint } from './lib/actionlint.ts';

const shellcheck = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
if (shellcheck.error || shellcheck.status !== 0) {
  console.error('shellcheck is not installed: actionlint checks the workflows\' run: scripts with it. ' +
    'Run hack/setup.sh (it installs Debian\'s shellcheck).');
  process.exit(1);
}
const actionlint = spawnSync(ensureActionlint(), ['-shellcheck', 'shellcheck'], { cwd: repoRoot, stdio: 'inherit' });
process.exit(actionlint.status ?? 1);
