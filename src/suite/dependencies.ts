// Pure: whether a suite needs its own dependencies installed, and with what.
// Only from a lockfile: versions are never resolved anew on the cluster, so a
// suite runs with the packages it was written against.

/**
 * Packages the runner brings itself, never the suite's: the CLI that runs the
 * tests and the `@playwright/test` its spec files import must be one and the
 * same module, or Playwright refuses to run.
 */
export const PROVIDED_PACKAGES: readonly string[] = ['@playwright/test', 'playwright', 'playwright-core'];

/**
 * Needed at run time by nothing: Playwright strips types without checking
 * them, so a suite whose only other packages are type declarations runs
 * without an install (and without a lockfile).
 */
const isTypesOnly = (name: string) => name.startsWith('@types/');

export type Installer = 'npm' | 'pnpm' | 'yarn';

export interface SuiteFiles {
  /** The suite's package.json as text; undefined when it has none. */
  packageJson?: string;
  /** Names of the files at the suite's top level. */
  names: ReadonlySet<string>;
  /** The suite brings its own node_modules (a suite baked into an image). */
  hasNodeModules: boolean;
  /** Whether `corepack` is on the runner's PATH (Node 24 images may lack it). */
  corepack: boolean;
  /** yarn.lock's text, when there is one: Yarn 1 and Yarn 2+ take different flags. */
  yarnLock?: string;
}

export type DependencyPlan =
  | { kind: 'none'; why: string } |
  {
    kind: 'install';
    installer: Installer;
    lockfile: string;
    /** The command and its arguments, run in the folder holding package.json and the lockfile. */
    command: string[];
  } |
  { kind: 'refused'; message: string };

export class PackageJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PackageJsonError';
  }
}

/** What package.json asks for beyond fleetwright's packages; throws a PackageJsonError when it is not JSON. */
export function ownDependencies(packageJson: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(packageJson);
  } catch (err) {
    throw new PackageJsonError(`the suite's package.json is not JSON (${err instanceof Error ? err.message : String(err)}): fix it`);
  }
  const manifest = (parsed ?? {}) as Record<string, unknown>;
  const names = new Set<string>();
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies']) {
    const deps = manifest[field];
    if (deps && typeof deps === 'object') for (const name of Object.keys(deps)) names.add(name);
  }
  return [...names].filter((name) => !PROVIDED_PACKAGES.includes(name) && !isTypesOnly(name)).sort();
}

/** npm's flags: no audit or funding requests; lifecycle scripts stay (esbuild, sharp… need theirs). */
const NPM_CI = ['npm', 'ci', '--no-audit', '--no-fund'];

/** In order of preference when a suite holds several. */
const LOCKFILES: readonly { name: string; installer: Installer }[] = [
  { name: 'package-lock.json', installer: 'npm' },
  { name: 'npm-shrinkwrap.json', installer: 'npm' },
  { name: 'pnpm-lock.yaml', installer: 'pnpm' },
  { name: 'yarn.lock', installer: 'yarn' },
];

/** The lockfile a suite's dependencies are installed from; undefined when it has none. */
export const lockfileOf = (names: ReadonlySet<string>) => LOCKFILES.find((l) => names.has(l.name));

/** Yarn 2 and later write `__metadata:` into yarn.lock; Yarn 1 does not. */
const isBerryLock = (text: string) => /^__metadata:/m.test(text);

function commandFor(installer: Installer, yarnLock: string | undefined): string[] {
  switch (installer) {
    case 'npm':
      return NPM_CI;
    case 'pnpm':
      return ['corepack', 'pnpm', 'install', '--frozen-lockfile'];
    case 'yarn':
      return isBerryLock(yarnLock ?? '')
        ? ['corepack', 'yarn', 'install', '--immutable']
        : ['corepack', 'yarn', 'install', '--frozen-lockfile', '--non-interactive'];
  }
}

/** What the runner does about the suite's dependencies before `playwright test`. */
export function planDependencies(suite: SuiteFiles): DependencyPlan {
  if (suite.packageJson === undefined) return { kind: 'none', why: 'the suite has no package.json' };
  if (suite.hasNodeModules) return { kind: 'none', why: 'the suite brings its own node_modules' };
  const own = ownDependencies(suite.packageJson);
  if (own.length === 0) {
    return { kind: 'none', why: 'package.json asks only for what fleetwright provides (@playwright/test, playwright, @types/*)' };
  }
  const lockfile = lockfileOf(suite.names);
  if (!lockfile) {
    return {
      kind: 'refused',
      message: `package.json asks for ${listed(own)} but the suite has no lockfile: commit one ` +
        '(`npm install` writes package-lock.json); versions are never resolved anew on the cluster',
    };
  }
  if (lockfile.installer !== 'npm' && !suite.corepack) {
    return {
      kind: 'refused',
      message: `the suite's ${lockfile.name} needs ${lockfile.installer} through corepack, which the runner image lacks: ` +
        'commit a package-lock.json (`npm install` writes one), or use a runner image whose Node has corepack',
    };
  }
  return { kind: 'install', installer: lockfile.installer, lockfile: lockfile.name, command: commandFor(lockfile.installer, suite.yarnLock) };
}

function listed(names: string[]): string {
  const shown = names.slice(0, 3).join(', ');
  return names.length > 3 ? `${shown} and ${names.length - 3} more` : shown;
}
