import { describe, expect, it } from 'vitest';
import { parseControllerArgs } from '../../../src/controllers/config.ts';
import { parseDuration } from '../../../src/runtime/flags.ts';
import { parseBindAddress } from '../../../src/runtime/http.ts';
import { nextLeaseSpec } from '../../../src/runtime/leaderelection.ts';

describe('fleetwright controller flags', () => {
  it('defaults to controller-runtime\'s addresses and the 15 s / 10 s / 2 s lease timings', () => {
    const c = parseControllerArgs([]);
    expect(c.metricsBindAddress).toBe(':8080');
    expect(c.healthProbeBindAddress).toBe(':8081');
    expect(c.leaderElect).toBe(false);
    expect(c.leaderElection).toMatchObject({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
    expect(c.gracefulShutdownMs).toBe(30_000);
  });

  it('takes short lease timings and refuses ones that cannot work', () => {
    const c = parseControllerArgs(['--leader-elect', '--leader-elect-lease-duration=3s',
      '--leader-elect-renew-deadline=2s', '--leader-elect-retry-period=500ms']);
    expect(c.leaderElection).toMatchObject({ leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 });
    expect(() => parseControllerArgs(['--leader-elect-renew-deadline=20s'])).toThrow(/lease duration > renew deadline/);
    expect(() => parseDuration('15', '--x')).toThrow('--x=15: expected a duration');
  });

  it('runs browser and runner pods from the image hack/ builds, unless told otherwise', () => {
    const saved = process.env.FLEETWRIGHT_IMAGE;
    try {
      delete process.env.FLEETWRIGHT_IMAGE;
      expect(parseControllerArgs([]).image).toBe('localhost/fleetwright/fleetwright:dev');
      process.env.FLEETWRIGHT_IMAGE = 'registry.example/fleetwright:1.0';
      expect(parseControllerArgs([]).image).toBe('registry.example/fleetwright:1.0');
      expect(parseControllerArgs(['--image=registry.example/fleetwright:2.0']).image).toBe('registry.example/fleetwright:2.0');
    } finally {
      if (saved === undefined) delete process.env.FLEETWRIGHT_IMAGE;
      else process.env.FLEETWRIGHT_IMAGE = saved;
    }
  });

  it('takes the report store\'s URL from --report-store-url, else $FLEETWRIGHT_REPORT_STORE_URL', () => {
    const saved = process.env.FLEETWRIGHT_REPORT_STORE_URL;
    try {
      delete process.env.FLEETWRIGHT_REPORT_STORE_URL;
      expect(parseControllerArgs([]).reportStoreUrl).toBeUndefined();
      process.env.FLEETWRIGHT_REPORT_STORE_URL = 'http://store.fleetwright-system.svc:8082/';
      expect(parseControllerArgs([]).reportStoreUrl).toBe('http://store.fleetwright-system.svc:8082');
      expect(parseControllerArgs(['--report-store-url=https://reports.example.com']).reportStoreUrl)
        .toBe('https://reports.example.com');
      for (const bad of ['store:8082', 'ftp://store', 'http://store/?x=1']) {
        expect(() => parseControllerArgs([`--report-store-url=${bad}`]))
          .toThrow(`--report-store-url=${bad}: expected an http(s) URL without query or fragment`);
      }
    } finally {
      if (saved === undefined) delete process.env.FLEETWRIGHT_REPORT_STORE_URL;
      else process.env.FLEETWRIGHT_REPORT_STORE_URL = saved;
    }
  });

  it('takes the gateway URL for Tunnel status.url from --gateway-url, else $FLEETWRIGHT_GATEWAY_URL', () => {
    const saved = process.env.FLEETWRIGHT_GATEWAY_URL;
    try {
      delete process.env.FLEETWRIGHT_GATEWAY_URL;
      expect(parseControllerArgs([]).gatewayUrl).toBeUndefined();
      process.env.FLEETWRIGHT_GATEWAY_URL = 'wss://env.example.com';
      expect(parseControllerArgs([]).gatewayUrl).toBe('wss://env.example.com');
      expect(parseControllerArgs(['--gateway-url=wss://flag.example.com']).gatewayUrl).toBe('wss://flag.example.com');
      expect(() => parseControllerArgs(['--gateway-url=browsers.example.com']))
        .toThrow('--gateway-url=browsers.example.com: expected an absolute URL');
    } finally {
      if (saved === undefined) delete process.env.FLEETWRIGHT_GATEWAY_URL;
      else process.env.FLEETWRIGHT_GATEWAY_URL = saved;
    }
  });

  it('reads bind addresses as controller-runtime does', () => {
    expect(parseBindAddress(':8080', 'f')).toEqual({ host: undefined, port: 8080 });
    expect(parseBindAddress('127.0.0.1:0', 'f')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseBindAddress('[::1]:9', 'f')).toEqual({ host: '::1', port: 9 });
    expect(parseBindAddress('0', 'f')).toBeUndefined();
    expect(() => parseBindAddress('8080', '--metrics-bind-address')).toThrow(/--metrics-bind-address=8080/);
  });
});

describe('nextLeaseSpec', () => {
  const held = { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: 't', renewTime: 't', leaseTransitions: 3 };

  it('waits for another holder\'s lease to expire, counted from when this replica last saw it change', () => {
    expect(nextLeaseSpec(held, 'b', 1000, 15_999, 15_000)).toBeUndefined();
    const taken = nextLeaseSpec(held, 'b', 1000, 16_001, 15_000);
    expect(taken).toMatchObject({ holderIdentity: 'b', leaseDurationSeconds: 15, leaseTransitions: 4 });
  });

  it('renews its own lease keeping acquireTime and transitions, and takes a released one at once', () => {
    expect(nextLeaseSpec(held, 'a', 1000, 2000, 15_000)).toMatchObject({ acquireTime: 't', leaseTransitions: 3 });
    const released = { ...held, holderIdentity: '', leaseDurationSeconds: 1 };
    expect(nextLeaseSpec(released, 'b', 1000, 1001, 15_000)).toMatchObject({ holderIdentity: 'b', leaseTransitions: 4 });
    expect(nextLeaseSpec(undefined, 'b', 0, 1, 3000)).toMatchObject({ holderIdentity: 'b', leaseDurationSeconds: 3, leaseTransitions: 1 });
  });
});
