// The local cluster's npm registry mirror (hack/lib/npm-mirror.ts) by hand:
//
//   node hack/npm-mirror.ts up [--host 10.244.0.1] [--port 4873]   start it (or find it running) and print its URL
//   node hack/npm-mirror.ts down                                   stop it
//
// Pods reach the host on the bridge address, the default; a suite then sets
// `registry=http://10.244.0.1:4873/` in its .npmrc.
import { parseArgs } from 'node:util';
import { startNpmMirror, stopNpmMirror } from './lib/npm-mirror.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { host: { type: 'string', default: '10.244.0.1' }, port: { type: 'string', default: '4873' } },
});
const port = Number(values.port);
switch (positionals[0]) {
  case 'up':
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port=${values.port}: expected a port, 1 to 65535`);
    console.log(await startNpmMirror({ host: values.host, port, log: console.log }));
    break;
  case 'down':
    await stopNpmMirror();
    break;
  default:
    console.error('usage: node hack/npm-mirror.ts up [--host 10.244.0.1] [--port 4873] | down');
    process.exitCode = 2;
}
