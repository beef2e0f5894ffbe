import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AttestationPolicySpecSchema } from '../api/attestation-policy.ts';
import { EarSigner, verifyEar } from '../attestation/policy/ear.ts';
import { defaultVerifierRegistry } from '../attestation/registry.ts';
import { sampleEvidence } from '../attestation/sample/verifier.ts';
import { sampleAttester } from '../sim/guest/attester.ts';
import { startSimulatedGuest, type SimulatedGuest } from '../sim/guest/guest.ts';
import { sampleCompositeEvidence } from '../sim/guest/kbs-client.ts';
import { startHostilePeer, type HostileMode } from '../../test/support/hostile-http.ts';
import { challengeVerifier, injectResource, PREPARE_RESPONSE_MAX_BYTES, type InjectOptions } from './challenge.ts';
import { deviceReportData } from '../protocol/runtime-data.ts';
import { generateTeeKeyPair } from '../protocol/tee-key.ts';

const devPolicy = AttestationPolicySpecSchema.parse({ allowSampleTee: true, minimumStatus: 'warning' });
const registry = defaultVerifierRegistry();
const PATH = 'default/local-resources/disk_passphrase';
const VALUE = Buffer.from('correct horse battery staple 7f3a');
const noSleep = () => Promise.resolve();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function guest(sampleDevice = false): Promise<SimulatedGuest> {
  const g = await startSimulatedGuest({ host: '127.0.0.1', manifest: [], attester: sampleAttester('1', sampleDevice) });
  cleanups.push(() => g.close());
  return g;
}

/** A hostile guest API (HTTP-level test double) whose prepare reply the test controls. */
async function fakeGuest(prepare: (nonce: string, calls: number) => { status: number; body?: unknown }): Promise<{ url: string; calls: () => number; commits: () => number }> {
  let calls = 0;
  let commits = 0;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      if (req.url?.includes('/commit/')) {
        commits++;
        res.writeHead(200).end('{}');
        return;
      }
      calls++;
      const r = prepare((JSON.parse(raw) as { nonce: string }).nonce, calls);
      res.writeHead(r.status, { 'content-type': 'application/json' }).end(r.body === undefined ? '' : JSON.stringify(r.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls: () => calls, commits: () => commits };
}

const opts = (baseUrl: string, policy = devPolicy, extra: Partial<InjectOptions> = {}): InjectOptions => ({
  baseUrl,
  resourcePath: PATH,
  plaintext: VALUE,
  tee: 'sample',
  verify: challengeVerifier({ registry, policy, policyId: 'agents/dev', referenceValues: [], signer }),
  retry: { attempts: 3 },
  sleep: noSleep,
  ...extra,
});
const signer = EarSigner.generate();

describe('challenge (push) delivery', () => {
  it('injects into the simulated guest, which decrypts exactly the original value', async () => {
    const g = await guest();
    const r = await injectResource(opts(`http://127.0.0.1:${g.apiPort}`));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.appraisal.status).toBe('warning');
    expect(verifyEar(r.ear!, [signer.publicJwk], new Date()).ok).toBe(true);
    expect(g.resources().get(PATH)?.equals(VALUE)).toBe(true);
    expect(JSON.stringify(g.events.history)).not.toContain('battery');
  });

  it('policy forbids sample → VerificationFailed(SampleTeeNotAllowed), nothing committed, no retry', async () => {
    const g = await guest();
    const r = await injectResource(opts(`http://127.0.0.1:${g.apiPort}`, AttestationPolicySpecSchema.parse({})));
    expect(!r.ok && [r.code, r.verification?.code, r.attempts]).toEqual(['VerificationFailed', 'SampleTeeNotAllowed', 1]);
    expect(g.resources().size).toBe(0);
    const below = await injectResource(opts(`http://127.0.0.1:${g.apiPort}`, AttestationPolicySpecSchema.parse({ allowSampleTee: true })));
    expect(!below.ok && below.verification?.code).toBe('AppraisalBelowMinimum');
  });

  it('wrong nonce and evidence bound to another TEE key are refused; nothing is committed', async () => {
    const key = generateTeeKeyPair().publicKey;
    const wrongNonce = await fakeGuest((nonce) => ({
      status: 200,
      body: { session_id: 's', nonce: `${nonce}x`, tee_pubkey: key, evidence: Buffer.from(JSON.stringify(sampleEvidence(deviceReportData(nonce, key)))).toString('base64') },
    }));
    const r1 = await injectResource(opts(wrongNonce.url));
    expect(!r1.ok && r1.code).toBe('NonceMismatch');
    const other = generateTeeKeyPair().publicKey;
    const otherKey = await fakeGuest((nonce) => ({
      status: 200,
      body: { session_id: 's', nonce, tee_pubkey: key, evidence: Buffer.from(JSON.stringify(sampleEvidence(deviceReportData(nonce, other)))).toString('base64') },
    }));
    const r2 = await injectResource(opts(otherKey.url));
    expect(!r2.ok && [r2.code, r2.verification?.code]).toEqual(['VerificationFailed', 'ReportDataMismatch']);
    expect(otherKey.calls()).toBe(1);
    const replay = await fakeGuest(() => ({
      status: 200,
      body: { session_id: 's', nonce: 'old-nonce', tee_pubkey: key, evidence: Buffer.from(JSON.stringify(sampleEvidence(deviceReportData('old-nonce', key)))).toString('base64') },
    }));
    const r3 = await injectResource(opts(replay.url));
    expect(!r3.ok && r3.code).toBe('NonceMismatch');
    const garbage = await fakeGuest(() => ({ status: 200, body: { session_id: 's', nonce: 'n' } }));
    expect((await injectResource(opts(garbage.url))).ok).toBe(false);
    expect(wrongNonce.commits() + otherKey.commits() + replay.commits() + garbage.commits()).toBe(0);
  });

  it('retries transport errors with backoff, but not HTTP refusals', async () => {
    const delays: number[] = [];
    const down = await injectResource(opts('http://127.0.0.1:9', devPolicy, { sleep: (ms) => (delays.push(ms), Promise.resolve()) }));
    expect(!down.ok && [down.code, down.attempts]).toEqual(['Transport', 3]);
    expect(delays).toHaveLength(2);
    expect(delays[1]!).toBeGreaterThan(delays[0]! * 0.9);
    const g = await guest();
    const flaky = await fakeGuest((nonce, calls) => (calls < 3 ? { status: 503 } : { status: 307, body: { nonce } }));
    const r = await injectResource(opts(flaky.url));
    expect(!r.ok && [r.code, r.attempts]).toEqual(['PrepareRejected', 3]);
    expect(flaky.calls()).toBe(3);
    const bad = await injectResource(opts(`http://127.0.0.1:${g.apiPort}`, devPolicy, { resourcePath: '../etc/passwd' }));
    expect(!bad.ok && bad.code).toBe('InvalidResourcePath');
  });
});

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');

describe('composite evidence (primary + additional device evidence)', () => {
  const gpuPolicy = AttestationPolicySpecSchema.parse({ allowSampleTee: true, minimumStatus: 'warning', gpu: { required: true } });

  it('a guest presenting CPU + device evidence passes gpu.required; the same guest without devices is refused GpuEvidenceMissing', async () => {
    const withGpu = await guest(true);
    const r = await injectResource(opts(`http://127.0.0.1:${withGpu.apiPort}`, gpuPolicy));
    expect(r.ok && r.appraisal.submods.map((m) => m.name)).toEqual(['cpu0', 'gpu0']);
    expect(withGpu.resources().get(PATH)?.equals(VALUE)).toBe(true);
    const cpuOnly = await guest(false);
    const refused = await injectResource(opts(`http://127.0.0.1:${cpuOnly.apiPort}`, gpuPolicy));
    expect(!refused.ok && [refused.code, refused.verification?.code, refused.attempts]).toEqual(['VerificationFailed', 'GpuEvidenceMissing', 1]);
    expect(cpuOnly.resources().size).toBe(0);
  });

  it('the primary evidence covers the device evidence: swapped, dropped or re-bound device evidence is refused, nothing committed', async () => {
    const key = generateTeeKeyPair().publicKey;
    const cases: Array<[string, (nonce: string) => unknown, string]> = [
      // device evidence of another nonce spliced into an otherwise genuine composite
      ['spliced', (nonce) => {
        const ev = sampleCompositeEvidence(nonce, key, '1', true);
        return { primary_evidence: ev.primary, additional_evidence: sampleCompositeEvidence('other', key, '1', true).additional };
      }, 'ReportDataMismatch'],
      // device evidence dropped after the quote covered it
      ['dropped', (nonce) => ({ primary_evidence: sampleCompositeEvidence(nonce, key, '1', true).primary, additional_evidence: '' }), 'ReportDataMismatch'],
      // primary evidence bound the legacy way (no additional-evidence member) but sent as composite
      ['legacy-bound', (nonce) => ({ primary_evidence: sampleEvidence(deviceReportData(nonce, key)), additional_evidence: '' }), 'ReportDataMismatch'],
      ['not-a-map', (nonce) => ({ primary_evidence: sampleCompositeEvidence(nonce, key).primary, additional_evidence: '[1]' }), 'MalformedAdditionalEvidence'],
    ];
    for (const [name, build, code] of cases) {
      const peer = await fakeGuest((nonce) => ({ status: 200, body: { session_id: 's', nonce, tee_pubkey: key, evidence: b64(build(nonce)) } }));
      const r = await injectResource(opts(peer.url));
      expect([name, !r.ok && r.verification?.code]).toEqual([name, code]);
      expect(peer.commits()).toBe(0);
    }
    const noString = await fakeGuest((nonce) => ({ status: 200, body: { session_id: 's', nonce, tee_pubkey: key, evidence: b64({ primary_evidence: {}, additional_evidence: 5 }) } }));
    const r = await injectResource(opts(noString.url));
    expect(!r.ok && r.code).toBe('MalformedPrepareResponse');
  });

  it('single (legacy trustiflux) evidence bound to {nonce, tee-pubkey} is still accepted, and refused under gpu.required', async () => {
    const key = generateTeeKeyPair().publicKey;
    const legacy = await fakeGuest((nonce) => ({ status: 200, body: { session_id: 's', nonce, tee_pubkey: key, evidence: b64(sampleEvidence(deviceReportData(nonce, key))) } }));
    expect((await injectResource(opts(legacy.url))).ok).toBe(true);
    const refused = await injectResource(opts(legacy.url, gpuPolicy));
    expect(!refused.ok && refused.verification?.code).toBe('GpuEvidenceMissing');
  });
});

describe('bounded reads from a hostile guest (nothing released)', () => {
  const hostile = async (mode: HostileMode) => {
    const peer = await startHostilePeer(mode);
    cleanups.push(() => peer.close());
    return peer;
  };

  it('an endless prepare reply is cut off at the cap: PrepareResponseTooLarge, not retried, nothing committed', async () => {
    const peer = await hostile('oversized');
    const before = process.memoryUsage().arrayBuffers;
    const r = await injectResource(opts(peer.url));
    expect(!r.ok && [r.code, r.attempts]).toEqual(['PrepareResponseTooLarge', 1]);
    // The peer had 256 MiB to send; backpressure let it push only about the cap plus socket buffers.
    expect(peer.bytesWritten()).toBeLessThan(PREPARE_RESPONSE_MAX_BYTES + 16 * 1024 * 1024);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
    expect(peer.requests()).toBe(1); // no commit
  });

  it('a declared oversized Content-Length is refused before reading', async () => {
    const peer = await hostile('declared-oversized');
    const r = await injectResource(opts(peer.url));
    expect(!r.ok && r.code).toBe('PrepareResponseTooLarge');
    expect(peer.bytesWritten()).toBeLessThan(PREPARE_RESPONSE_MAX_BYTES + 16 * 1024 * 1024);
    expect(peer.requests()).toBe(1);
  });

  it('a body that never ends (slow loris) times out each attempt: Transport, nothing committed', async () => {
    const peer = await hostile('slow-loris');
    const r = await injectResource(opts(peer.url, devPolicy, { timeoutMs: 400, retry: { attempts: 2 } }));
    expect(!r.ok && [r.code, r.attempts]).toEqual(['Transport', 2]);
    expect(!r.ok && r.message).toMatch(/reading the reply body failed: (TimeoutError|AbortError)/);
    expect(peer.requests()).toBe(2); // two prepares, no commit
  });

  it('truncated JSON is MalformedPrepareResponse, nothing committed', async () => {
    const peer = await hostile('truncated-json');
    const r = await injectResource(opts(peer.url));
    expect(!r.ok && [r.code, r.attempts]).toEqual(['MalformedPrepareResponse', 1]);
    expect(peer.requests()).toBe(1);
  });

  it('a redirect is not followed', async () => {
    const target = await fakeGuest((nonce) => ({ status: 200, body: { nonce } }));
    const redirecting = createServer((_req, res) => res.writeHead(307, { location: `${target.url}/cdh/resource-injection/prepare/${PATH}` }).end());
    await new Promise<void>((r) => redirecting.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => redirecting.close(() => r())));
    const r = await injectResource(opts(`http://127.0.0.1:${(redirecting.address() as AddressInfo).port}`));
    expect(!r.ok && r.code).toBe('PrepareRejected');
    expect(target.calls()).toBe(0);
  });
});
