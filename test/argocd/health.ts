// Runs the chart's Argo CD health scripts (charts/fleetwright/files/argocd)
// with Debian's lua5.4 on objects as the API server returns them.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../hack/lib/paths.ts';

export const SCRIPTS = {
  BrowserPool: join(repoRoot, 'charts', 'fleetwright', 'files', 'argocd', 'health-browserpool.lua'),
  TestRun: join(repoRoot, 'charts', 'fleetwright', 'files', 'argocd', 'health-testrun.lua'),
  Tunnel: join(repoRoot, 'charts', 'fleetwright', 'files', 'argocd', 'health-tunnel.lua'),
} as const;
export type Kind = keyof typeof SCRIPTS;

const harness = join(repoRoot, 'test', 'argocd', 'harness.lua');

/** Lua has no JSON reader; the object goes over as a table constructor. JSON null, like Argo CD's nil, is left out. */
export function toLua(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return luaString(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`toLua: ${value} is not JSON`);
    return String(value);
  }
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `{${value.map(toLua).join(', ')}}`;
  const fields = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `[${luaString(k)}] = ${toLua(v)}`);
  return `{${fields.join(', ')}}`;
}

/** A Lua string literal: quotes, backslashes and control characters escaped (\ddd); other UTF-8 bytes as they are. */
function luaString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (code < 32 || code === 127) out += `\\${String(code).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

export interface Health { status: string; message: string }

/** What Argo CD would show for `obj`, by the chart's script for its kind. */
export function argoHealth(kind: Kind, obj: unknown): Health {
  const result = spawnSync('lua5.4', [harness, SCRIPTS[kind]], { input: toLua(obj), encoding: 'utf8' });
  if (result.error) throw new Error(`lua5.4: ${result.error.message} (Debian package lua5.4; hack/setup.sh installs it)`);
  if (result.status !== 0) throw new Error(`health-${kind.toLowerCase()}.lua failed: ${result.stderr}`);
  const [status = '', ...message] = result.stdout.split('\n');
  return { status, message: message.join('\n') };
}
