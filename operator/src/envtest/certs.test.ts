import { createPublicKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateControlPlaneCerts } from './certs.ts';

describe('generateControlPlaneCerts', () => {
  it('issues a serving and an admin certificate from one CA, with the names the API server and RBAC need', async () => {
    const now = Date.parse('2026-03-01T00:00:00Z');
    const certs = await generateControlPlaneCerts({ now: () => now, servingHosts: ['cp.example', '10.1.2.3'] });
    const ca = new X509Certificate(certs.ca.certPem);
    const serving = new X509Certificate(certs.serving.certPem);
    const admin = new X509Certificate(certs.admin.certPem);

    expect(ca.ca).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    for (const leaf of [serving, admin]) {
      expect(leaf.ca).toBe(false);
      expect(leaf.checkIssued(ca)).toBe(true);
      expect(leaf.verify(ca.publicKey)).toBe(true);
      expect(Date.parse(leaf.validFrom)).toBeLessThanOrEqual(now);
      expect(Date.parse(leaf.validTo)).toBe(now + 7 * 86_400_000 - (now % 1000));
    }
    expect(serving.subjectAltName).toBe(
      'IP Address:127.0.0.1, DNS:localhost, IP Address:10.0.0.1, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:cp.example, IP Address:10.1.2.3',
    );
    expect(serving.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(serving.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    // Kubernetes maps O to groups: system:masters is what makes this the admin credential
    expect(admin.subject.split('\n').sort()).toEqual(['CN=cai-admin', 'O=system:masters']);
    expect(admin.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);

    // keys match their certificates; the service-account key pair is a pair
    expect(createPublicKey(certs.serving.keyPem).export({ format: 'pem', type: 'spki' })).toBe(serving.publicKey.export({ format: 'pem', type: 'spki' }));
    expect(createPublicKey(certs.admin.keyPem).export({ format: 'pem', type: 'spki' })).toBe(admin.publicKey.export({ format: 'pem', type: 'spki' }));
    expect(createPublicKey(certs.serviceAccount.keyPem).export({ format: 'pem', type: 'spki' })).toBe(certs.serviceAccount.publicKeyPem);
  });

  it('generates fresh keys every time', async () => {
    const [a, b] = await Promise.all([generateControlPlaneCerts(), generateControlPlaneCerts()]);
    expect(a.ca.keyPem).not.toBe(b.ca.keyPem);
    expect(new X509Certificate(a.admin.certPem).verify(new X509Certificate(b.ca.certPem).publicKey)).toBe(false);
  });
});
