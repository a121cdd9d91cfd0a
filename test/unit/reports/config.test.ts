import { describe, expect, it } from 'vitest';
import { parseReportStoreArgs } from '../../../src/reports/config.ts';

const required = ['--public-url=https://reports.example.com/', '--path=/data'];

describe('fleetwright report-store flags', () => {
  it('has the defaults the chart relies on', () => {
    expect(parseReportStoreArgs(required)).toEqual({
      kubeconfig: undefined,
      logLevel: 'info',
      watchNamespace: undefined,
      bind: { port: 8082 },
      metricsBind: { port: 9091 },
      publicUrl: 'https://reports.example.com',
      backend: { kind: 'filesystem', path: '/data' },
      maxUploadBytes: 256 * 1024 * 1024,
      maxAgeMs: 30 * 24 * 3600_000,
      sweepIntervalMs: 600_000,
    });
  });

  it('reads the s3 backend', () => {
    const config = parseReportStoreArgs([
      '--public-url=http://127.0.0.1:8082',
      '--backend=s3',
      '--s3-bucket=reports',
      '--s3-endpoint=http://minio.storage:9000',
      '--s3-force-path-style=false',
      '--metrics-bind-address=0',
      '--max-age=24h',
    ]);
    expect(config.backend).toEqual({
      kind: 's3',
      bucket: 'reports',
      endpoint: 'http://minio.storage:9000',
      region: 'us-east-1',
      forcePathStyle: false,
    });
    expect(config.metricsBind).toBeUndefined();
    expect(config.maxAgeMs).toBe(24 * 3600_000);
  });

  it.each([
    [[], /--public-url is required/],
    [['--public-url=reports.example.com', '--path=/d'], /--public-url=reports\.example\.com: not a URL/],
    [['--public-url=ftp://x', '--path=/d'], /expected an http\(s\) URL/],
    [['--public-url=http://x'], /--backend=filesystem needs --path/],
    [['--public-url=http://x', '--backend=s3'], /--backend=s3 needs --s3-bucket/],
    [['--public-url=http://x', '--backend=gcs'], /--backend=gcs: expected filesystem or s3/],
    [['--public-url=http://x', '--backend=s3', '--s3-bucket=b', '--s3-force-path-style=yes'], /expected true or false/],
    [['--public-url=http://x', '--backend=s3', '--s3-bucket=b', '--s3-endpoint=minio:9000:x'], /--s3-endpoint=minio:9000:x: not an http\(s\) URL/],
    [[...required, '--max-upload-bytes=1k'], /--max-upload-bytes=1k: expected a positive whole number of bytes/],
    [[...required, '--max-upload-bytes=0'], /--max-upload-bytes=0/],
    [[...required, '--max-age=30d'], /--max-age=30d: expected a duration/],
    [[...required, '--max-age=0s'], /--max-age=0s: must be longer than 0/],
    [[...required, '--bind-address=0'], /--bind-address=0: the report store must listen somewhere/],
    [[...required, '--bind-address=8082'], /--bind-address=8082: expected \[host\]:port/],
    [[...required, '--s3-bucket'], /s3-bucket/],
    [[...required, '--what=1'], /what/],
  ])('%j fails with the flag named', (args, message) => {
    expect(() => parseReportStoreArgs(args as string[])).toThrow(message);
  });
});
