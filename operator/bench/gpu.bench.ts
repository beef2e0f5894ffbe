// GPU evidence verification throughput with warm RIM/OCSP caches, next to raw P-384 verifies/s
// measured in the same run (node:crypto). Run: npm run bench:gpu
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { createNvidiaVerifier } from '../src/attestation/nvidia/verifier.ts';
import { HttpOcspClient } from '../src/attestation/nvidia/ocsp-client.ts';
import { HttpRimSource, MapRimSource } from '../src/attestation/nvidia/rim-source.ts';
import type { AttestationPolicySpec } from '../src/api/attestation-policy.ts';
import { H100_2023, kbsEntry, reportDataFor } from '../test/fixtures/nvidia/support/fixtures.ts';
import { startOcspResponder, startRimService } from '../test/fixtures/nvidia/support/servers.ts';
import { resignReport, resignRim } from '../test/fixtures/nvidia/support/synthetic.ts';
import { makeDeviceLeaf, makeOcspResponse, makeTestPki, requestedSerial, serialHex } from '../test/fixtures/nvidia/support/test-pki.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

async function rate(fn: () => unknown | Promise<unknown>): Promise<number> {
  for (let i = 0; i < 20; i++) await fn(); // warm-up (fills caches)
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  const start = performance.now();
  while (performance.now() < end) {
    await fn();
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

const policy = (ocsp: 'Skip' | 'Require', urls: { rim: string; ocsp: string }): AttestationPolicySpec => ({
  allowSampleTee: false,
  minimumStatus: 'affirming',
  reattestIntervalSeconds: 3600,
  gpu: { required: true, ocsp, rimServiceUrl: urls.rim, ocspUrl: urls.ocsp },
});

// Reference: raw ECDSA P-384 verifies/s over a report-sized message.
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const message = H100_2023.report.subarray(0, H100_2023.report.length - 96);
const signature = sign('sha384', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
const raw = await rate(() => verify('sha384', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature));

// 1) Captured H100 report + NVIDIA-signed RIMs (offline map), OCSP Skip (NVIDIA's responder is not reachable here).
const captured = createNvidiaVerifier({
  rims: new MapRimSource(new Map([[H100_2023.driverRimId, H100_2023.driverRim], [H100_2023.vbiosRimId, H100_2023.vbiosRim]])),
});
const capturedInput = {
  evidence: { device_evidence_list: [kbsEntry(H100_2023.report, H100_2023.chainPem)] },
  expectedReportData: reportDataFor(H100_2023.nonceHex),
  at: H100_2023.pinnedTime,
  policy: policy('Skip', { rim: 'https://rim.invalid/', ocsp: 'https://ocsp.invalid/' }),
};
const capturedRate = await rate(async () => {
  const r = await captured.verify(capturedInput);
  if (!r.ok) throw new Error(r.failure.message);
});

// 2) Same report re-signed under a test PKI, RIMs from a local RIM service and OCSP from a local responder
//    (HTTP clients with warm caches), OCSP Require.
const pki = makeTestPki();
const leaf = makeDeviceLeaf(pki);
const nonce = createHash('sha256').update('bench').digest();
const rimChain = [pki.rimSigner, pki.rimCa, pki.rimRoot];
const rimService = await startRimService(
  new Map([
    [H100_2023.driverRimId, resignRim(H100_2023.driverRim, pki.rimSigner, rimChain)],
    [H100_2023.vbiosRimId, resignRim(H100_2023.vbiosRim, pki.rimSigner, rimChain)],
  ]),
);
const rimSerials = new Set([serialHex(pki.rimSigner), serialHex(pki.rimCa)]);
const ocspServer = await startOcspResponder((req) =>
  makeOcspResponse({
    requestDer: req,
    responder: rimSerials.has(requestedSerial(req)) ? pki.rimResponder : pki.deviceResponder,
    statusOf: () => 'good',
    thisUpdate: new Date('2024-05-31T00:00:00Z'),
    nextUpdate: new Date('2024-06-08T00:00:00Z'),
  }),
);
const online = createNvidiaVerifier({
  rims: new HttpRimSource({ baseUrl: rimService.url }),
  ocsp: new HttpOcspClient({ url: ocspServer.url }),
  roots: { deviceRootPem: pki.deviceRoot.pem, rimRootPem: pki.rimRoot.pem },
});
const chainPem = [leaf, pki.deviceProvisioner, pki.deviceIdentity, pki.deviceRoot].map((c) => c.pem).join('');
const onlineInput = {
  evidence: { device_evidence_list: [kbsEntry(resignReport(leaf, nonce), chainPem)] },
  expectedReportData: new Uint8Array([...nonce, ...new Uint8Array(16)]),
  at: H100_2023.pinnedTime,
  policy: policy('Require', { rim: rimService.url, ocsp: ocspServer.url }),
};
const onlineRate = await rate(async () => {
  const r = await online.verify(onlineInput);
  if (!r.ok) throw new Error(r.failure.message);
});
const httpRequests = `HTTP requests in the whole run: RIM service ${rimService.requests}, OCSP ${ocspServer.requests} (then warm caches)`;
await rimService.close();
await ocspServer.close();

const line = (label: string, value: number): string => `${label.padEnd(62)} ${value.toFixed(0).padStart(7)}/s`;
console.log(line('raw P-384 ECDSA verifies (node:crypto, reference)', raw));
console.log(`${line('GPU reports verified, captured H100 + NVIDIA RIMs (OCSP Skip)', capturedRate)}  ratio ${(capturedRate / raw).toFixed(2)}`);
console.log(`${line('GPU reports verified, HTTP RIM + OCSP Require, warm caches', onlineRate)}  ratio ${(onlineRate / raw).toFixed(2)}`);
console.log(httpRequests);
console.log(`target: ratio >= 0.40 (each report needs one P-384 verify; chains, RIMs and OCSP answers are cached)`);
