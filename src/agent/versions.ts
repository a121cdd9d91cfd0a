// The Playwright versions a browser pod serves: the playwright-core packages
// the image carries, declared here once. Playwright refuses a client of another
// major.minor (HTTP 428), and clients come pinned to many: each @playwright/mcp
// release pins a pre-release of the next minor, and teams lag a minor or two.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { majorMinor } from '../contracts/playwright-client.ts';

const require = createRequire(import.meta.url);

/**
 * The playwright-core packages of the image, by their names in package.json's
 * dependencies: the pinned one first (the default, served by the warm
 * browser), then npm aliases `playwright-core-<major>-<minor>` of the next
 * minor's pre-release and of the two minors before the pinned one.
 * test/unit/agent/playwright-packages.test.ts keeps this list equal to
 * package.json; docs/development.md says how to move the versions.
 */
export const PLAYWRIGHT_PACKAGES = [
  'playwright-core',
  'playwright-core-1-66',
  'playwright-core-1-64',
  'playwright-core-1-63',
] as const;

/** One installed playwright-core. */
export interface PlaywrightPackage {
  /** Its name in node_modules: an npm alias for all but the default. */
  name: string;
  /** Its full version, as its package.json says (what the agent reports). */
  version: string;
  /** Its command line, whose run-server the agent starts. */
  cli: string;
}

/**
 * The installed packages of `names`, in that order, one per major.minor (the
 * first keeps it: an image that put another version in place of
 * playwright-core, as hack/'s variant images do, serves that one warm). Throws
 * when one is missing: the image was built from another package.json.
 */
export function installedPlaywrights(names: readonly string[] = PLAYWRIGHT_PACKAGES): PlaywrightPackage[] {
  const found: PlaywrightPackage[] = [];
  for (const name of names) {
    let manifest: string;
    try {
      manifest = require.resolve(`${name}/package.json`);
    } catch {
      throw new Error(`${name} is not installed: the image lacks a Playwright version this agent serves (src/agent/versions.ts)`);
    }
    const { version } = require(manifest) as { version: string };
    if (found.some((p) => majorMinor(p.version) === majorMinor(version))) continue;
    found.push({ name, version, cli: join(dirname(manifest), 'cli.js') });
  }
  return found;
}

/**
 * The packages a pod of `browser` serves: every one for Chromium, which each
 * version drives over CDP, on the one binary of the image (1.63 to the 1.66
 * pre-release each run Debian's Chromium 156: test/unit/agent/agent-versions.test.ts);
 * only the default for
 * Firefox and WebKit, whose builds are patched for one Playwright version
 * each and of which the image holds only the default's.
 */
export function servedPlaywrights(installed: readonly PlaywrightPackage[], browser: string): PlaywrightPackage[] {
  return browser === 'chromium' ? [...installed] : installed.slice(0, 1);
}
