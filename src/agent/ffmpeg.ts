// The ffmpeg that encodes session videos: the pod's (FLEETWRIGHT_FFMPEG_PATH,
// Debian's in the local image), else Playwright's own, which Playwright's
// published image installs beside its browsers.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AgentConfig } from '../contracts/agent.ts';

const require = createRequire(import.meta.url);

/** What the agent uses of Playwright's browser registry. */
interface Registry {
  findExecutable(name: string): { executablePath(): string | undefined } | undefined;
}

/**
 * Where Playwright's own ffmpeg is when installed. playwright-core has no
 * public API for it; its registry, which knows the revision and the
 * PLAYWRIGHT_BROWSERS_PATH rules, is reached through `lib/coreBundle`, a path
 * its package.json exports (and which `playwright-core` itself has loaded
 * already), rather than by copying those rules here.
 */
function playwrightFfmpeg(): string | undefined {
  try {
    const { registry } = require('playwright-core/lib/coreBundle') as { registry: { registry: Registry } };
    return registry.registry.findExecutable('ffmpeg')?.executablePath();
  } catch {
    return undefined;
  }
}

/** The ffmpeg binary, or why there is none (then videos are skipped, logs still recorded). */
export function findFfmpeg(config: AgentConfig): { path: string } | { missing: string } {
  const configured = config.FLEETWRIGHT_FFMPEG_PATH;
  if (configured) {
    return existsSync(configured)
      ? { path: configured }
      : { missing: `FLEETWRIGHT_FFMPEG_PATH names ${configured}, which does not exist: fix the pool's image or its environment` };
  }
  const own = playwrightFfmpeg();
  return own && existsSync(own)
    ? { path: own }
    : { missing: 'no ffmpeg: set FLEETWRIGHT_FFMPEG_PATH or install Playwright\'s (npx playwright install ffmpeg)' };
}
