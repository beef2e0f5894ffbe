// The KBS runtime the operator's worker and `cai kbs` run: TLS from files, handed to a local guest in the
// attested bootstrap push (kbs_cert), reloaded when the files change; refused by a guest trusting another CA.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AttestationPolicySpecSchema } from '../api/attestation-policy.ts';
import { EarSigner } from '../attestation/policy/ear.ts';
import { defaultVerifierRegistry } from '../attestation/registry.ts';
import { BOOTSTRAP_RESOURCE, startSimulatedGuest, type SimulatedGuest } from '../sim/guest/guest.ts';
import { KbsClient } from '../sim/guest/kbs-client.ts';
import { challengeVerifier, injectResource } from '../release/challenge.ts';
import { generateKbsTls, KbsTlsError, loadKbsTls } from '../release/kbs/tls.ts';
import type { KbsEvent } from '../release/kbs/types.ts';
import { seal } from '../release/sealing/envelope.ts';
import { createKeyring, serializeKeyring } from '../release/sealing/keyring.ts';
import { startKbsRuntime, type KbsRuntime, type KbsTlsMode } from './kbs-runtime.ts';
import type { KbsSnapshot } from './kbs-snapshot.ts';

const RESOURCE = 'default/local-resources/openclaw_vllm_config';
const SECRET = 'kbs-runtime-secret-9d1f';
const spec = AttestationPolicySpecSchema.parse({ allowSampleTee: true, minimumStatus: 'warning' });
const verify = challengeVerifier({ registry: defaultVerifierRegistry(), policy: spec, policyId: 'agents/dev', referenceValues: [] });

let rt: KbsRuntime | undefined;
let guest: SimulatedGuest | undefined;
afterEach(async () => {
  await guest?.close();
  await rt?.close();
  rt = guest = undefined;
});

async function runtime(tls: KbsTlsMode) {
  const keyring = await createKeyring(new Date());
  const scope = { mode: 'Strict' as const, agents: [] };
  const snapshot: KbsSnapshot = {
    agents: [{ namespace: 'agents', name: 'bot', policyName: 'dev', credentials: ['cred'], identity: { peerAddress: '127.0.0.1' } }],
    policies: [{ namespace: 'agents', name: 'dev', spec, referenceValues: [] }],
    credentials: [{ namespace: 'agents', name: 'cred', resourcePath: RESOURCE, scope, encryptedData: seal(keyring.certificatePem, Buffer.from(SECRET), { namespace: 'agents', name: 'cred', ...scope, resourcePath: RESOURCE }) }],
    configMaps: {},
  };
  const events: KbsEvent[] = [];
  const logs: string[] = [];
  rt = await startKbsRuntime({
    host: '127.0.0.1',
    port: 0,
    tls,
    signerPem: EarSigner.generate().privateKeyPem(),
    keyringJson: serializeKeyring(keyring),
    snapshot,
    log: (_l, _o, msg) => logs.push(msg),
    onEvent: (e) => events.push(e),
  });
  return { rt, events, logs };
}

/** A new connection (no kept-alive socket, no cached TLS session). */
const fresh = () => new Agent({ keepAlive: false, maxCachedSessions: 0 });

function writeTls(dir: string, m: { key: string; cert: string; guestTrust: string }) {
  writeFileSync(join(dir, 'tls.key'), m.key);
  writeFileSync(join(dir, 'tls.crt'), m.cert);
  writeFileSync(join(dir, 'ca.crt'), m.guestTrust);
}

describe('KBS runtime TLS', () => {
  it('a local guest fetches over HTTPS with the kbs_cert from its bootstrap push and refuses a KBS with another certificate; reloads reach new connections', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbs-tls-'));
    const first = await generateKbsTls(['127.0.0.1']);
    writeTls(dir, first);
    const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), caFile: join(dir, 'ca.crt') };
    const { rt: kbs, events, logs } = await runtime({ mode: 'files', ...files, reloadIntervalMs: 50 });
    expect(kbs.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(kbs.guestTrust).toBe(first.guestTrust);

    guest = await startSimulatedGuest({ host: '127.0.0.1', manifest: [RESOURCE], kbsRetry: { attempts: 2, delayMs: 50 } });
    const boot = JSON.stringify({ mode: 'kbs', kbs_url: kbs.url, kbs_cert: kbs.guestTrust });
    expect((await injectResource({ baseUrl: `http://127.0.0.1:${guest.apiPort}`, resourcePath: BOOTSTRAP_RESOURCE, plaintext: Buffer.from(boot), tee: 'sample', verify, retry: { attempts: 1 } })).ok).toBe(true);
    expect((await guest.waitForResource(RESOURCE, 10_000)).toString()).toBe(SECRET);
    expect(events.map((e) => e.type)).toEqual(['attested', 'released']);

    // a client that trusts another CA (a KBS impostor's view, reversed) gets no TLS session
    const other = await generateKbsTls(['127.0.0.1']);
    const impostorView = new KbsClient({ baseUrl: kbs.url, ca: other.guestTrust, handshakeAttempts: 1, getAttempts: 1 });
    await expect(impostorView.getResource(RESOURCE)).rejects.toMatchObject({ code: 'Transport' });

    // rotate the files: new connections present the new certificate (kept-alive ones finish on the old)
    writeTls(dir, other);
    await expect.poll(() => logs.includes('kbs: TLS certificate reloaded; new connections use it'), { timeout: 5000 }).toBe(true);
    expect(kbs.guestTrust).toBe(other.guestTrust);
    expect((await new KbsClient({ baseUrl: kbs.url, ca: other.guestTrust, handshakeAttempts: 1, agent: fresh() }).getResource(RESOURCE)).toString()).toBe(SECRET);
    await expect(new KbsClient({ baseUrl: kbs.url, ca: first.guestTrust, handshakeAttempts: 1, getAttempts: 1, agent: fresh() }).getResource(RESOURCE)).rejects.toMatchObject({ code: 'Transport' });

    // a broken update (key of another pair) is refused and the current certificate kept
    writeFileSync(join(dir, 'tls.key'), first.key);
    await expect.poll(() => logs.filter((l) => l.startsWith('kbs: TLS reload failed')).length, { timeout: 5000 }).toBeGreaterThan(0);
    expect((await new KbsClient({ baseUrl: kbs.url, ca: other.guestTrust, handshakeAttempts: 1, agent: fresh() }).getResource(RESOURCE)).toString()).toBe(SECRET);
  });

  it.each([
    ['without kbs_cert', undefined],
    ['with the CA of another KBS as kbs_cert', 'other'],
  ])('a guest bootstrapped %s refuses the HTTPS KBS', async (_label, which) => {
    const { rt: kbs } = await runtime({ mode: 'generated', hosts: ['127.0.0.1'] });
    guest = await startSimulatedGuest({ host: '127.0.0.1', manifest: [RESOURCE], kbsRetry: { attempts: 1, delayMs: 10 } });
    const otherCa = which ? (await generateKbsTls(['127.0.0.1'])).guestTrust : undefined;
    const boot = JSON.stringify({ mode: 'kbs', kbs_url: kbs.url, ...(otherCa ? { kbs_cert: otherCa } : {}) });
    await injectResource({ baseUrl: `http://127.0.0.1:${guest.apiPort}`, resourcePath: BOOTSTRAP_RESOURCE, plaintext: Buffer.from(boot), tee: 'sample', verify, retry: { attempts: 1 } });
    await expect.poll(() => guest!.events.history.some((e) => e.type === 'kbs-error' && e.code === 'Transport'), { timeout: 5000 }).toBe(true);
    expect(guest.resources().has(RESOURCE)).toBe(false);
  });

  it('loadKbsTls names the file and the check', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbs-tls-bad-'));
    const a = await generateKbsTls(['127.0.0.1']);
    const b = await generateKbsTls(['127.0.0.1']);
    writeFileSync(join(dir, 'a.crt'), a.cert);
    writeFileSync(join(dir, 'b.key'), b.key);
    writeFileSync(join(dir, 'big.crt'), 'x'.repeat(300_000));
    writeFileSync(join(dir, 'not-pem'), 'hello');
    const err = (p: Promise<unknown>) => p.then(() => 'loaded', (e: unknown) => (e instanceof KbsTlsError ? `${e.code}: ${e.message}` : String(e)));
    expect(await err(loadKbsTls({ certFile: join(dir, 'a.crt'), keyFile: join(dir, 'b.key') }))).toMatch(/^TlsMaterialInvalid: KBS TLS key and certificate are not a usable pair/);
    expect(await err(loadKbsTls({ certFile: join(dir, 'missing.crt'), keyFile: join(dir, 'b.key') }))).toBe(`TlsFileUnreadable: --kbs-tls-cert ${join(dir, 'missing.crt')} cannot be read: ENOENT`);
    expect(await err(loadKbsTls({ certFile: join(dir, 'big.crt'), keyFile: join(dir, 'b.key') }))).toMatch(/^TlsFileTooLarge: --kbs-tls-cert .*big\.crt is 300000 bytes; the limit is 262144$/);
    writeFileSync(join(dir, 'a.key'), a.key);
    expect(await err(loadKbsTls({ certFile: join(dir, 'a.crt'), keyFile: join(dir, 'a.key'), caFile: join(dir, 'not-pem') }))).toMatch(/^TlsMaterialInvalid: --kbs-tls-ca .* holds no PEM certificate$/);
    expect(await err(loadKbsTls({ certFile: join(dir, 'a.crt'), keyFile: join(dir, 'a.key') }))).toBe('loaded');
  });
});
