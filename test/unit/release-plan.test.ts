import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '../../hack/lib/paths.ts';
import {
  buildArgs,
  chartRef,
  listTagsArgs,
  noSuchChart,
  noSuchRepository,
  parseReleaseArgs,
  pushArgs,
  pushedChartDigest,
  refusal,
  releasedChartYaml,
  releasedValues,
  releaseRecord,
  tagsOf,
} from '../../hack/lib/release-plan.ts';

const chartDir = join(repoRoot, 'charts', 'fleetwright');
const digest = `sha256:${'a'.repeat(64)}`;
const parseArgs = (line: string) => parseReleaseArgs(line.split(' '), '/src');

describe('npm run release: its command line', () => {
  it('takes the registry and the version, and defaults to one platform, TLS, no overwrite and this tree', () => {
    expect(parseArgs('--registry ghcr.io/acme --version 1.2.3')).toEqual({
      registry: 'ghcr.io/acme', version: '1.2.3', baseImage: undefined, platforms: [],
      plainHttp: false, overwrite: false, source: '/src',
    });
  });

  it('takes every option, with = or a separate value', () => {
    expect(parseArgs('--registry=10.244.0.1:15000 --version 0.2.0-rc.1 --base-image localhost/base:1 ' +
      '--platform linux/amd64,linux/arm64 --plain-http --overwrite --source /old')).toEqual({
      registry: '10.244.0.1:15000', version: '0.2.0-rc.1', baseImage: 'localhost/base:1',
      platforms: ['linux/amd64', 'linux/arm64'], plainHttp: true, overwrite: true, source: '/old',
    });
  });

  it.each([
    ['--version 1.2.3', /--registry and --version are required/],
    ['--registry ghcr.io/acme --version v1.2.3', /not a semantic version/],
    ['--registry ghcr.io/acme --version 1.2', /not a semantic version/],
    ['--registry oci://ghcr.io/acme --version 1.2.3', /not host\[:port\]\[\/path\]/],
    ['--registry ghcr.io/acme/ --version 1.2.3', /no trailing slash/],
    ['--registry ghcr.io/Acme --version 1.2.3', /lower-case path/],
    ['--registry ghcr.io/acme --version 1.2.3 --platform linux', /--platform linux is not os\/arch/],
    ['--registry ghcr.io/acme --version 1.2.3 --push', /unknown argument --push/],
    ['--registry ghcr.io/acme --version', /--version needs a value/],
  ])('refuses %s', (line, message) => {
    expect(() => parseArgs(line)).toThrow(message);
  });
});

describe('npm run release: what it publishes', () => {
  const options = parseArgs('--registry 10.244.0.1:15000 --version 0.2.0 --plain-http --base-image localhost/base:1');
  const multi = parseArgs('--registry ghcr.io/acme --version 0.2.0 --platform linux/amd64,linux/arm64');

  it('names the image <registry>/fleetwright:<version> and the chart oci://<registry>/charts/fleetwright', () => {
    expect(releaseRecord(options, digest, `sha256:${'b'.repeat(64)}`)).toEqual({
      version: '0.2.0',
      image: '10.244.0.1:15000/fleetwright:0.2.0',
      digest,
      chart: 'oci://10.244.0.1:15000/charts/fleetwright',
      chartDigest: `sha256:${'b'.repeat(64)}`,
    });
  });

  it('builds one image from the source\'s Dockerfile on the base asked for, with the npm-ca secret', () => {
    expect(buildArgs(options, ['--secret', 'id=npm-ca,src=/ca.pem'])).toEqual([
      'build', '--network=host', '--label', 'org.opencontainers.image.version=0.2.0', '--build-arg', 'BASE_IMAGE=localhost/base:1', '--secret', 'id=npm-ca,src=/ca.pem',
      '--tag', '10.244.0.1:15000/fleetwright:0.2.0', '--file', '/src/Dockerfile', '/src',
    ]);
  });

  it('builds a manifest list for several platforms on the Dockerfile\'s own base, and pushes all of it', () => {
    expect(buildArgs(multi, [])).toEqual([
      'build', '--network=host', '--label', 'org.opencontainers.image.version=0.2.0', '--platform', 'linux/amd64,linux/arm64',
      '--manifest', 'ghcr.io/acme/fleetwright:0.2.0', '--file', '/src/Dockerfile', '/src',
    ]);
    expect(pushArgs(multi, '/tmp/d')).toEqual([
      'manifest', 'push', '--all', '--digestfile', '/tmp/d', 'ghcr.io/acme/fleetwright:0.2.0', 'docker://ghcr.io/acme/fleetwright:0.2.0',
    ]);
  });

  it('pushes over plain HTTP only when asked', () => {
    expect(pushArgs(options, '/tmp/d')).toEqual([
      'push', '--tls-verify=false', '--digestfile', '/tmp/d', '10.244.0.1:15000/fleetwright:0.2.0',
      'docker://10.244.0.1:15000/fleetwright:0.2.0',
    ]);
    expect(listTagsArgs(multi)).not.toContain('--tls-verify=false');
    expect(listTagsArgs(options)).toContain('--tls-verify=false');
  });
});

describe('npm run release: a version already published', () => {
  const options = parseArgs('--registry ghcr.io/acme --version 0.2.0');

  it('goes ahead when neither the chart nor the image tag is there', () => {
    expect(refusal(options, { imageTag: false, chart: false })).toBeUndefined();
  });

  it('refuses when the chart or the image tag is there, naming the version, the registry and --overwrite', () => {
    expect(refusal(options, { imageTag: true, chart: true })).toBe(
      'version 0.2.0 is already published in ghcr.io/acme (the chart oci://ghcr.io/acme/charts/fleetwright:0.2.0 and ' +
      'the image ghcr.io/acme/fleetwright:0.2.0): choose another version, or pass --overwrite to replace it',
    );
    expect(refusal(options, { imageTag: true, chart: false })).toMatch(/\(the image ghcr.io\/acme\/fleetwright:0.2.0\)/);
    expect(refusal(options, { imageTag: false, chart: true })).toMatch(/\(the chart oci:\/\/ghcr.io\/acme\/charts\/fleetwright:0.2.0\)/);
  });

  it('replaces it with --overwrite', () => {
    expect(refusal({ ...options, overwrite: true }, { imageTag: true, chart: true })).toBeUndefined();
  });

  it('reads the registry\'s answers: tags listed, a repository or chart it does not know', () => {
    expect(tagsOf('[{"Name":"10.244.0.1:15000/fleetwright","Tags":["0.1.0","0.2.0"]}]')).toEqual(['0.1.0', '0.2.0']);
    expect(noSuchRepository('Error: 1 error occurred:\n\t* getting repository tags: fetching tags list: invalid status code from registry 404 (Not Found)')).toBe(true);
    expect(noSuchRepository('dial tcp 10.244.0.1:15000: connect: connection refused')).toBe(false);
    expect(noSuchChart('Error: failed to perform "FetchReference" on source: 10.244.0.1:15000/charts/fleetwright:0.2.0: not found')).toBe(true);
    expect(noSuchChart('Error: unexpected status from HEAD request to https://ghcr.io/v2/acme/charts/fleetwright/manifests/0.2.0: 401 Unauthorized')).toBe(false);
  });
});

describe('npm run release: the chart as released', () => {
  it('carries the version as version and appVersion, keeping Chart.yaml\'s comments and quoting', () => {
    const text = releasedChartYaml(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8'), '0.2.0');
    expect(parse(text)).toMatchObject({ name: 'fleetwright', version: '0.2.0', appVersion: '0.2.0' });
    expect(text).toContain('appVersion: "0.2.0"');
    expect(text).toContain('# The chart\'s version and the image it installs by default');
  });

  it('pins the pushed image by digest, every other value as it was', () => {
    const original = readFileSync(join(chartDir, 'values.yaml'), 'utf8');
    const released = parse(releasedValues(original, 'ghcr.io/acme/fleetwright', digest)) as Record<string, unknown>;
    const before = parse(original) as Record<string, unknown> & { image: Record<string, unknown> };
    expect(released).toEqual({ ...before, image: { ...before.image, repository: 'ghcr.io/acme/fleetwright', digest } });
  });

  it('reads the digest helm push prints', () => {
    const output = `Pushed: 10.244.0.1:15000/charts/fleetwright:0.2.0\nDigest: ${digest}\n`;
    expect(pushedChartDigest(output)).toBe(digest);
    expect(() => pushedChartDigest('Error: boom')).toThrow(/helm push printed no digest/);
  });

  it('is pulled as oci://<registry>/charts/fleetwright', () => {
    expect(chartRef({ registry: '10.244.0.1:15000' })).toBe('oci://10.244.0.1:15000/charts/fleetwright');
  });
});
