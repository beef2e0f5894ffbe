import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { checkTls, generateKbsTls, KbsTlsError, loadKbsTls, watchKbsTls, type KbsTlsMaterial } from './tls.ts';

const DAY = 86_400_000;

describe('KBS TLS material', () => {
  it('generates a CA and a serving certificate for IPv4, IPv6 and DNS names, valid from a minute ago for validDays', async () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const m = await generateKbsTls(['127.0.0.1', '::1', 'kbs.example', 'kbs.example', '10.0.0.256x'], { now, validDays: 2 });
    const leaf = new X509Certificate(m.cert);
    const ca = new X509Certificate(m.guestTrust);
    expect(leaf.subject).toBe('CN=cai-kbs');
    expect(ca.subject).toBe('CN=cai-kbs-development-ca');
    expect(leaf.issuer).toBe(ca.subject);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.subjectAltName).toBe('IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:kbs.example, DNS:10.0.0.256x');
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(new Date(leaf.validFrom).getTime()).toBe(now - 60_000);
    expect(new Date(leaf.validTo).getTime()).toBe(now + 2 * DAY);
    expect(new Date(ca.validTo).getTime()).toBe(now + 2 * DAY);
    // Serials are positive (no leading 8-f nibble) and differ.
    for (const c of [leaf, ca]) expect(c.serialNumber).toMatch(/^[0-7][0-9A-F]{31}$/);
    expect(leaf.serialNumber).not.toBe(ca.serialNumber);
    expect(leaf.checkPrivateKey(createPrivateKey(m.key))).toBe(true);
    expect(m.key.endsWith('-----END PRIVATE KEY-----\n')).toBe(true);
    expect(m.cert.endsWith('-----END CERTIFICATE-----\n')).toBe(true);
    expect(m.guestTrust.endsWith('-----END CERTIFICATE-----\n')).toBe(true);
    checkTls(m);
  });

  it('marks the constraints and key usages critical, the EKU and SANs not, and keeps serials positive', async () => {
    const m = await generateKbsTls(['127.0.0.1', 'kbs.local']);
    const flags = (pem: string) =>
      new x509.X509Certificate(pem).extensions.map((e) => {
        const detail = e instanceof x509.BasicConstraintsExtension ? `:ca=${e.ca}:path=${e.pathLength ?? '-'}` : e instanceof x509.KeyUsagesExtension ? `:usages=${e.usages}` : '';
        return `${e.type}:${e.critical}${detail}`;
      });
    expect(flags(m.guestTrust)).toEqual(['2.5.29.19:true:ca=true:path=0', `2.5.29.15:true:usages=${x509.KeyUsageFlags.keyCertSign}`]);
    expect(flags(m.cert)).toEqual(['2.5.29.19:true:ca=false:path=-', `2.5.29.15:true:usages=${x509.KeyUsageFlags.digitalSignature}`, '2.5.29.37:false', '2.5.29.17:false']);
    // A serial with a leading 8-f nibble would be negative in DER: generateKbsTls makes it start with 1 instead.
    const serials = (await Promise.all(Array.from({ length: 6 }, () => generateKbsTls(['127.0.0.1'])))).flatMap((g) => [g.cert, g.guestTrust].map((p) => new X509Certificate(p).serialNumber));
    for (const serial of serials) expect(serial).toMatch(/^[0-7][0-9A-F]{31}$/);
  });

  it('defaults to 30 days from now', async () => {
    const before = Date.now();
    const leaf = new X509Certificate((await generateKbsTls(['127.0.0.1'])).cert);
    const to = new Date(leaf.validTo).getTime();
    expect(to).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 30 * DAY);
    expect(to).toBeLessThanOrEqual(Date.now() + 30 * DAY);
  });

  it('refuses a key that is not the certificate’s, naming the check', async () => {
    const [a, b] = await Promise.all([generateKbsTls(['127.0.0.1']), generateKbsTls(['127.0.0.1'])]);
    expect(() => checkTls({ key: b.key, cert: a.cert })).toThrow(KbsTlsError);
    expect(() => checkTls({ key: b.key, cert: a.cert })).toThrow(/^KBS TLS key and certificate are not a usable pair: .+/);
  });

  it('loads a file of exactly the size limit, and guests trust the CA file when one is given, else the chain', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbs-tls-unit-'));
    const m = await generateKbsTls(['127.0.0.1']);
    writeFileSync(join(dir, 'tls.crt'), m.cert.padEnd(256 * 1024, '\n'));
    writeFileSync(join(dir, 'tls.key'), m.key);
    writeFileSync(join(dir, 'ca.crt'), m.guestTrust);
    const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
    const own = await loadKbsTls(files);
    expect(own.guestTrust).toBe(own.cert);
    expect(own.cert).toHaveLength(256 * 1024);
    expect((await loadKbsTls({ ...files, caFile: join(dir, 'ca.crt') })).guestTrust).toBe(m.guestTrust);
    writeFileSync(join(dir, 'big.key'), m.key.padEnd(256 * 1024 + 1, '\n'));
    await expect(loadKbsTls({ ...files, keyFile: join(dir, 'big.key') })).rejects.toMatchObject({
      code: 'TlsFileTooLarge',
      message: `--kbs-tls-key ${join(dir, 'big.key')} is 262145 bytes; the limit is 262144`,
    });
    await expect(loadKbsTls({ ...files, certFile: join(dir, 'none.crt') })).rejects.toMatchObject({
      name: 'KbsTlsError',
      code: 'TlsFileUnreadable',
      message: `--kbs-tls-cert ${join(dir, 'none.crt')} cannot be read: ENOENT`,
    });
    writeFileSync(join(dir, 'key-as-ca.pem'), m.key);
    await expect(loadKbsTls({ ...files, caFile: join(dir, 'key-as-ca.pem') })).rejects.toMatchObject({
      code: 'TlsMaterialInvalid',
      message: `--kbs-tls-ca ${join(dir, 'key-as-ca.pem')} holds no PEM certificate`,
    });
    await expect(loadKbsTls({ ...files, caFile: join(dir, 'none.crt') })).rejects.toMatchObject({
      code: 'TlsFileUnreadable',
      message: `--kbs-tls-ca ${join(dir, 'none.crt')} cannot be read: ENOENT`,
    });
  });

  it('watches the files: reports a change once, keeps the material on a bad update, and stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbs-tls-watch-'));
    const [a, b] = await Promise.all([generateKbsTls(['127.0.0.1']), generateKbsTls(['127.0.0.1'])]);
    const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), caFile: join(dir, 'ca.crt') };
    const write = (m: KbsTlsMaterial) => {
      writeFileSync(files.certFile, m.cert);
      writeFileSync(files.keyFile, m.key);
      writeFileSync(files.caFile, m.guestTrust);
    };
    write(a);
    const changes: KbsTlsMaterial[] = [];
    const errors: KbsTlsError[] = [];
    const stop = watchKbsTls(files, await loadKbsTls(files), { intervalMs: 20, onChange: (m) => changes.push(m), onError: (e) => errors.push(e) });
    try {
      await new Promise((r) => setTimeout(r, 100));
      expect(changes).toEqual([]);
      // Only the CA file changes: guests must get the new trust, so that is a change too.
      writeFileSync(files.caFile, b.guestTrust);
      await expect.poll(() => changes.length, { timeout: 5000 }).toBe(1);
      expect(changes[0]).toEqual({ key: a.key, cert: a.cert, guestTrust: b.guestTrust });
      write(b);
      await expect.poll(() => changes.length, { timeout: 5000 }).toBe(2);
      expect(changes[1]).toEqual(b);
      await new Promise((r) => setTimeout(r, 100));
      expect(changes).toHaveLength(2);
      // Only the key text changes (same key), then only the certificate text: each is a change.
      writeFileSync(files.keyFile, `${b.key}\n`);
      await expect.poll(() => changes.length, { timeout: 5000 }).toBe(3);
      expect(changes[2]?.key).toBe(`${b.key}\n`);
      writeFileSync(files.certFile, `${b.cert}\n`);
      await expect.poll(() => changes.length, { timeout: 5000 }).toBe(4);
      expect(changes[3]?.cert).toBe(`${b.cert}\n`);
      writeFileSync(files.keyFile, a.key);
      await expect.poll(() => errors.length, { timeout: 5000 }).toBeGreaterThan(0);
      expect(errors[0]).toBeInstanceOf(KbsTlsError);
      expect(errors[0]?.code).toBe('TlsMaterialInvalid');
      expect(changes).toHaveLength(4);
    } finally {
      stop();
    }
    const seen = errors.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(errors.length).toBe(seen);
  });
});
