// Writes crds/*.yaml from the zod schemas; with --check, fails when they differ.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrdFiles } from '../src/api/crd.ts';
import { kinds } from '../src/api/v1alpha1/index.ts';

const dir = join(import.meta.dirname, '..', 'crds');
const check = process.argv.includes('--check');
const wanted = renderCrdFiles(kinds);

if (check) {
  const stale = wanted
    .filter(({ file, content }) => readOrEmpty(join(dir, file)) !== content)
    .map((f) => f.file);
  const extra = readdirSync(dir).filter((f) => f.endsWith('.yaml') && !wanted.some((w) => w.file === f));
  if (stale.length + extra.length > 0) {
    console.error(
      `crds/ is out of date with src/api/v1alpha1 (differs: ${[...stale, ...extra].join(', ')}).\n` +
      'Run `npm run generate` and commit the result.',
    );
    process.exit(1);
  }
  console.log(`crds/ matches src/api/v1alpha1 (${wanted.length} CRDs)`);
} else {
  for (const { file, content } of wanted) writeFileSync(join(dir, file), content);
  console.log(`wrote ${wanted.map((w) => `crds/${w.file}`).join(', ')}`);
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
