// hack/'s `down` finds what a killed run left behind by the state folder in its
// processes' command lines: another checkout's folder that only starts the same
// way (.fleetwright-it beside .fleetwright) is not its.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { mentionsPath, processesMentioning } from '../../hack/lib/processes.ts';

describe('mentionsPath', () => {
  it.each([
    ['etcd --data-dir=/w/.fleetwright/etcd', true],
    ['kubelet --root-dir /w/.fleetwright', true],
    ['containerd --config /w/.fleetwright/node/config.toml', true],
    ['etcd --data-dir=/w/.fleetwright-it/etcd', false],
    ['etcd --data-dir=/w/.fleetwright2/etcd', false],
    ['etcd --data-dir=/w/.fleetwright.old/etcd', false],
    ['etcd --data-dir=/w/.fleetwright-it/etcd --log /w/.fleetwright/etcd.log', true],
  ])('%s names /w/.fleetwright: %s', (commandLine, expected) => {
    expect(mentionsPath(commandLine, '/w/.fleetwright')).toBe(expected);
  });
});

describe('processesMentioning', () => {
  let child: ChildProcess | undefined;
  afterAll(() => child?.kill());

  it('finds a process by its own folder and not by a folder whose name only starts the same', async () => {
    child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)', '/tmp/fw-test/.fleetwright-it/etcd']);
    await new Promise((resolve) => child?.once('spawn', resolve));
    expect(processesMentioning('/tmp/fw-test/.fleetwright-it')).toContain(child.pid);
    expect(processesMentioning('/tmp/fw-test/.fleetwright')).not.toContain(child.pid);
  });
});
