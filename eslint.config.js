// Lint and format in one tool: ESLint with typescript-eslint and @stylistic.
// (Biome was the first choice, but the registry reachable here serves only its
// glibc Linux binaries, so no lockfile of it satisfies `npm ci`.)
import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'crds/', '.fleetwright/', 'node_modules/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  stylistic.configs.customize({
    indent: 2,
    quotes: 'single',
    semi: true,
    commaDangle: 'always-multiline',
    braceStyle: '1tbs',
    arrowParens: true,
  }),
  {
    rules: {
      '@stylistic/max-len': ['error', { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }],
      '@stylistic/operator-linebreak': ['error', 'after', { overrides: { '?': 'before', ':': 'before' } }],
    },
  },
  ...boundaries(),
);

/**
 * The layers of src/, lowest first; a folder imports only from the layers below it (and itself):
 *
 *   api/         the API: our kinds' zod schemas (the CRDs' source) and typed handles, the object model
 *                (meta.ts) and the built-in kinds we use (builtin.ts). Imports nothing of ours.
 *   contracts/   what two processes exchange: environment variables, ports, paths, headers, file and
 *                annotation formats, declared once for both sides. Imports nothing of ours, so that the
 *                reporter can ship it into the user's test process.
 *   runtime/     the controller runtime and every process's shell (flags, logging, HTTP, metrics). Generic
 *                over kinds: of the API it sees only meta.ts and builtin.ts.
 *   leasing/     browser leases, their queue and the gateway heartbeats: api, contracts, runtime.
 *   git/, suite/ a git source; a Playwright suite's dependencies and .npmrc: contracts.
 *   controllers/, gateway/, reports/, agent/, runner/, cli/: one folder per process. Any layer above;
 *                never each other.
 *   reporter/    `fleetwright/reporter`, loaded into the user's Playwright process: contracts only.
 *   main.ts      the `fleetwright` binary: every process folder.
 * Nothing in src/ imports hack/, test/ or bench/.
 */
function boundaries() {
  const lower = {
    api: [],
    contracts: [],
    runtime: ['api'],
    leasing: ['api', 'contracts', 'runtime'],
    git: ['contracts'],
    suite: ['contracts'],
  };
  const base = ['api', 'contracts', 'runtime', 'leasing', 'git', 'suite'];
  const processes = {
    controllers: base,
    gateway: base,
    reports: base,
    agent: base,
    runner: base,
    cli: base,
    reporter: ['contracts'],
  };
  const layers = { ...lower, ...processes };
  const outside = 'nothing outside src/: the product never imports hack/, test/ or bench/';
  // A file `depth` folders below src/ reaches src/<x> with exactly `depth` ../, and leaves src/ with more.
  const up = (depth) => '\\.\\./'.repeat(depth);
  const patterns = (folder, depth) => {
    const allowed = layers[folder];
    const what = allowed.length > 0 ? allowed.map((a) => `src/${a}/`).join(', ') : 'nothing of src/';
    return [
      {
        // Allowed by name: a folder not placed in a layer here is out of reach until it is.
        regex: `^${up(depth)}(?!\\.\\./)(?!(${[folder, ...allowed].join('|')})/)`,
        message: `src/${folder}/ imports only ${what} (the layers are in eslint.config.js): ` +
          'move what both sides need down a layer',
      },
      { regex: `^${up(depth + 1)}`, message: `src/${folder}/ imports ${outside}` },
      ...(folder === 'runtime'
        ? [{
            regex: `^${up(depth)}api/(?!meta\\.ts$|builtin\\.ts$)`,
            message: 'the runtime is generic over kinds: of src/api/ it imports only meta.ts and builtin.ts',
          }]
        : []),
    ];
  };
  // One block per folder and depth (src/x/*.ts, src/x/*/*.ts, ... five deep), so that each pattern knows where ../
  // leads.
  const blocks = Object.keys(layers).flatMap((folder) => [1, 2, 3, 4, 5].map((depth) => ({
    files: [`src/${folder}/${'*/'.repeat(depth - 1)}*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns: patterns(folder, depth) }] },
  })));
  return [
    ...blocks,
    {
      files: ['src/*.ts'],
      rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: '^\\.\\./', message: `src/ imports ${outside}` }] }] },
    },
  ];
}
