// The files a GitHub release carries beside the image and the chart:
// fleetwright.yaml, config/default rendered with the released image pinned by
// digest (in the Deployments and in the controller's --image, which browser
// and runner pods run), and fleetwright-crds.yaml, the CRDs alone, which an
// upgrade applies first (helm upgrade leaves the chart's crds/ alone).
//
//   node hack/release-assets.ts --image ghcr.io/fleetwright/fleetwright@sha256:… --out <dir>
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { IMAGE_REPOSITORY } from './lib/images.ts';
import { repoRoot } from './lib/paths.ts';
import { ensureTool } from './lib/tools.ts';

const kustomize = (dir: string) => execFileSync(ensureTool('kubectl'), ['kustomize', dir], { encoding: 'utf8' });

/** An overlay of config/default that swaps the local image for `image` (repository@sha256:…). */
function overlay(dir: string, image: string): string {
  const [repository, digest] = image.split('@');
  return `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [${relative(dir, join(repoRoot, 'config', 'default'))}]
images:
  - { name: ${IMAGE_REPOSITORY}, newName: ${repository}, digest: "${digest}" }
replacements:
  - source: { kind: Deployment, name: fleetwright-controller, fieldPath: 'spec.template.spec.containers.[name=controller].image' }
    targets:
      - select: { kind: Deployment, name: fleetwright-controller }
        fieldPaths: ['spec.template.spec.containers.[name=controller].args.1']
        options: { delimiter: '=', index: 1 }
`;
}

/** config/default with `image` (repository@sha256:…) for every Fleetwright container and pod. */
export function renderBundle(image: string): string {
  if (!/^[^@\s]+@sha256:[0-9a-f]{64}$/.test(image)) {
    throw new Error(`--image ${image}: give the released image by digest, <repository>@sha256:<64 hex digits>`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'fleetwright-bundle-'));
  try {
    writeFileSync(join(dir, 'kustomization.yaml'), overlay(dir, image));
    return kustomize(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The CRDs of config/crd, one file. */
export const renderCrds = () => kustomize(join(repoRoot, 'config', 'crd'));

if (import.meta.main) {
  const { values } = parseArgs({ options: { image: { type: 'string' }, out: { type: 'string' } } });
  if (!values.image || !values.out) {
    console.error('usage: node hack/release-assets.ts --image <repository>@sha256:<digest> --out <dir>');
    process.exit(2);
  }
  mkdirSync(values.out, { recursive: true });
  writeFileSync(join(values.out, 'fleetwright.yaml'), renderBundle(values.image));
  writeFileSync(join(values.out, 'fleetwright-crds.yaml'), renderCrds());
  console.log(`wrote fleetwright.yaml and fleetwright-crds.yaml into ${values.out}`);
}
