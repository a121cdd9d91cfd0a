// Writes the CRDs from the zod schemas into crds/, the Helm chart's crds/
// (Helm installs what is there before the templates) and kustomize's
// config/crd (kustomize reads no file outside its tree); with --check, fails
// when any differs. config/crd/kustomization.yaml is hack/generate-config.ts's.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrdFiles } from './lib/crd-files.ts';
import { kinds } from '../src/api/v1alpha1/index.ts';

const root = join(import.meta.dirname, '..');
const crdDirs = ['crds', join('charts', 'fleetwright', 'crds'), join('config', 'crd')];
const check = process.argv.includes('--check');
const wanted = renderCrdFiles(kinds);

if (check) {
  const problems = crdDirs.flatMap((dir) => {
    const stale = wanted
      .filter(({ file, content }) => readOrEmpty(join(root, dir, file)) !== content)
      .map((f) => f.file);
    const extra = listYaml(join(root, dir))
      .filter((f) => f !== 'kustomization.yaml' && !wanted.some((w) => w.file === f));
    return [...stale, ...extra].map((f) => `${dir}/${f}`);
  });
  if (problems.length > 0) {
    console.error(
      `the CRDs are out of date with src/api/v1alpha1 (differs: ${problems.join(', ')}).\n` +
      'Run `npm run generate` and commit the result.',
    );
    process.exit(1);
  }
  console.log(`${crdDirs.join(', ')} match src/api/v1alpha1 (${wanted.length} CRDs)`);
} else {
  for (const dir of crdDirs) {
    mkdirSync(join(root, dir), { recursive: true });
    for (const { file, content } of wanted) writeFileSync(join(root, dir, file), content);
  }
  console.log(`wrote ${wanted.map((w) => w.file).join(', ')} into ${crdDirs.join(', ')}`);
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function listYaml(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  } catch {
    return [];
  }
}
