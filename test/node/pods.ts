import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { kubeConfig } from '../integration/helpers.ts';

export const core = () => kubeConfig().makeApiClient(CoreV1Api);

/** An HTTP server on 0.0.0.0:8080 and 127.0.0.1:9000 that stops on SIGTERM, as PID 1 must. */
export const SERVER = `
const http = require('node:http');
const serve = (port, host) => http.createServer((_, res) => res.end('hello from ' + host + ':' + port)).listen(port, host);
const servers = [serve(8080, '0.0.0.0'), serve(9000, '127.0.0.1')];
console.log('listening on 8080 and 127.0.0.1:9000');
process.on('SIGTERM', () => {
  console.log('SIGTERM: closing');
  for (const s of servers) { s.close(); s.closeAllConnections(); }
});
`;

/** A pod of the project's image under the restricted Pod Security Standard, Ready when :8080 answers. */
export function pod(name: string, command: string[], extra: Partial<V1Pod['spec']> = {}, labels: Record<string, string> = {}): V1Pod {
  return {
    metadata: { name, labels },
    spec: {
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'main',
          image: inject('image'),
          imagePullPolicy: 'Never',
          command,
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          resources: { limits: { memory: '256Mi' } },
          readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
        },
      ],
      ...extra,
    },
  };
}

export const isReady = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Polls a pod until `done` holds; fails with its status after the timeout. */
export async function waitForPod(
  namespace: string,
  name: string,
  done: (p: V1Pod) => boolean,
  timeoutMs = 60_000,
): Promise<V1Pod> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await core().readNamespacedPod({ name, namespace });
    if (done(current)) return current;
    if (Date.now() > deadline) throw new Error(`pod ${namespace}/${name} timed out: ${JSON.stringify(current.status)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The state letter (R, S, Z, …) of every process in a pod's PID namespace, read from this host's /proc
 * (the node runs here): the namespace of the process whose environment names the pod as HOSTNAME.
 */
export function podProcessStates(podName: string): string[] {
  const pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return ''; // the process exited meanwhile
    }
  };
  const namespaceOf = (pid: string) => {
    try {
      return readlinkSync(`/proc/${pid}/ns/pid`);
    } catch {
      return '';
    }
  };
  const member = pids.find((pid) => read(`/proc/${pid}/environ`).split('\0').includes(`HOSTNAME=${podName}`));
  if (!member) throw new Error(`no process of pod ${podName} on this host`);
  const namespace = namespaceOf(member);
  // /proc/<pid>/stat: "pid (comm) state ...", and comm may hold spaces and parentheses.
  return pids.filter((pid) => namespaceOf(pid) === namespace)
    .map((pid) => read(`/proc/${pid}/stat`).replace(/^.*\) /s, '').split(' ')[0] ?? '')
    .filter(Boolean);
}
