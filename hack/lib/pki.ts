import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  tokenFile: string;
  adminToken: string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(path: string): void {
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', path]);
}

/** A certificate signed by the cluster CA, written as <name>.crt/<name>.key. Kept if present. */
export function issueCertificate(
  pki: Pki,
  name: string,
  subject: string,
  usage: 'serverAuth' | 'clientAuth',
  subjectAltNames: string[] = [],
): { cert: string; key: string } {
  const cert = join(pki.dir, `${name}.crt`);
  const key = join(pki.dir, `${name}.key`);
  if (existsSync(cert) && existsSync(key)) return { cert, key };
  newKey(key);
  const extensions = [
    '-addext',
    `extendedKeyUsage=${usage}`,
    '-addext',
    'keyUsage=critical,digitalSignature',
  ];
  if (subjectAltNames.length > 0) extensions.push('-addext', `subjectAltName=${subjectAltNames.join(',')}`);
  openssl(
    ['req', '-x509', '-new', '-key', key, '-subj', subject, '-CA', pki.caCert, '-CAkey', pki.caKey].concat(
      ['-days', '3650', '-out', cert],
      extensions,
    ),
  );
  return { cert, key };
}

/** The CA, the service-account signing key and the admin token; created on first use. */
export function ensurePki(dir: string): Pki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pki: Pki = {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serviceAccountKey: join(dir, 'sa.key'),
    serviceAccountPub: join(dir, 'sa.pub'),
    tokenFile: join(dir, 'tokens.csv'),
    adminToken: '',
  };
  if (!existsSync(pki.caCert)) {
    newKey(pki.caKey);
    openssl(
      ['req', '-x509', '-new', '-key', pki.caKey, '-subj', '/CN=fleetwright-local-ca', '-days', '3650']
        .concat([
          '-addext',
          'basicConstraints=critical,CA:TRUE',
          '-addext',
          'keyUsage=critical,keyCertSign,cRLSign',
        ])
        .concat(['-out', pki.caCert]),
    );
  }
  if (!existsSync(pki.serviceAccountKey)) {
    newKey(pki.serviceAccountKey);
    openssl(['ec', '-in', pki.serviceAccountKey, '-pubout', '-out', pki.serviceAccountPub]);
  }
  if (!existsSync(pki.tokenFile)) {
    // token,user,uid,"group1,group2": the static token file format of kube-apiserver.
    writeFileSync(pki.tokenFile, `${randomBytes(24).toString('hex')},admin,admin,"system:masters"\n`, {
      mode: 0o600,
    });
  }
  pki.adminToken = readFileSync(pki.tokenFile, 'utf8').split(',')[0] ?? '';
  return pki;
}
