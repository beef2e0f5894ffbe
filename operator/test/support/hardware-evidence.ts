// Hardware evidence for end-to-end tests, re-signed by test PKIs over each fresh nonce: a real TDX quote with
// its real CC event log (GCP COS 113 boot; RTMRs match the log) re-signed by a private "Intel" PKI with its
// REPORTDATA set to the runtime-data hash, plus eight H100 GPUs whose real SPDM report is re-signed by per-GPU
// test device keys with the SPDM nonce set to the first 32 bytes of the device runtime-data hash. Around it the
// network services the production policy reaches, on loopback: a PCCS serving the re-signed collateral, a RIM
// service serving NVIDIA's RIMs re-signed by a test RIM signer, and an OCSP responder signing with test CAs.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { AttestationPolicySpecSchema, type AttestationPolicySpec } from '../../src/api/attestation-policy.ts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TrustAnchors } from '../../src/app/verifiers.ts';
import { parseCcel } from '../../src/attestation/tdx/ccel.ts';
import { bootApplicationDigests, replayCcel } from '../../src/attestation/tdx/replay.ts';
import type { GuestAttester } from '../../src/sim/guest/attester.ts';
import { H100_2023, kbsEntry } from '../fixtures/nvidia/support/fixtures.ts';
import { startOcspResponder, startRimService, type LocalServer } from '../fixtures/nvidia/support/servers.ts';
import { resignReport, resignRim } from '../fixtures/nvidia/support/synthetic.ts';
import { makeDeviceLeaf, makeOcspResponse, makeTestPki, requestedSerial, serialHex, type TestCert } from '../fixtures/nvidia/support/test-pki.ts';
import { CCEL_FIXTURES, TDX_FIXTURES } from '../fixtures/tdx/fixtures.ts';
import { tdxResigner, type TdxResigner } from '../fixtures/tdx/test-pki.ts';

export const GPU_COUNT = 8;

/** TDX primary evidence over `reportData`: the captured quote re-signed by the test PKI, with its event log. */
export function resignedTdxEvidence(tdx: TdxResigner, ccel: string, reportData: Uint8Array): { cc_eventlog: string; quote: string } {
  // REPORTDATA (body offset 520, 64 bytes) = the 48-byte runtime-data hash, zero-padded.
  const quote = tdx.quote((region, body) => {
    region.fill(0, body + 520, body + 584);
    region.set(reportData, body + 520);
  });
  return { cc_eventlog: ccel, quote: Buffer.from(quote).toString('base64') };
}
const DAY = 86_400_000;
type Json = Record<string, unknown>;

export interface HardwareEvidence {
  /** Trust anchors to start the operator with (the only thing that differs from production). */
  anchors: TrustAnchors;
  /** Endpoints standing in for the Alibaba PCCS and NVIDIA's RIM service and OCSP responder. */
  pccsUrl: string;
  rimServiceUrl: string;
  ocspUrl: string;
  /** SHA-384 of the boot application (UKI) the event log measures: the reference value the image builder publishes. */
  ukiSha384: string;
  /** Evidence source: TDX primary + `nvidia` additional evidence for GPU_COUNT GPUs (or none with `gpus: 0`). */
  attester(opts?: { gpus?: number }): GuestAttester;
  /** How many primary/device evidences were produced (each over a fresh nonce). */
  produced(): { quotes: number; gpuReports: number };
  /** Requests each loopback service answered. */
  requests(): { pccs: number; rim: number; ocsp: number };
  /** Takes the PCCS down (every request answers 503) or brings it back: a PCCS outage. */
  setPccsAvailable(up: boolean): void;
  close(): Promise<void>;
}

const ccelDir = join(CCEL_FIXTURES, 'gcp-cos113-go-tdx-guest');
const collateralDir = join(TDX_FIXTURES, 'v4-00806f050000', 'collateral-2025-06');

/** The fixture collateral re-dated around `now` with every level UpToDate (the production policy accepts only that). */
function freshCollateralEdits(now: Date, validForMs = 30 * DAY) {
  const issue = new Date(now.getTime() - DAY).toISOString().replace(/\.\d+Z$/, 'Z');
  const next = new Date(now.getTime() + validForMs).toISOString().replace(/\.\d+Z$/, 'Z');
  const upToDate = (levels: unknown) => {
    for (const l of levels as Json[]) {
      l.tcbStatus = 'UpToDate';
      delete l.advisoryIDs;
    }
  };
  return {
    editTcbInfo: (t: Json) => {
      Object.assign(t, { issueDate: issue, nextUpdate: next });
      upToDate(t.tcbLevels);
      for (const m of (t.tdxModuleIdentities as Json[] | undefined) ?? []) upToDate(m.tcbLevels);
    },
    editQeIdentity: (q: Json) => {
      Object.assign(q, { issueDate: issue, nextUpdate: next });
      upToDate(q.tcbLevels);
    },
  };
}

/** PCCS v4 wire format: URL-encoded PEM issuer chains in headers, DER PCK CRL, hex root CA CRL. */
async function startPccs(r: TdxResigner): Promise<{ url: string; requests(): number; setAvailable(up: boolean): void; close(): Promise<void> }> {
  const c = r.collateral;
  let requests = 0;
  let available = true;
  const server: Server = createServer((req, res) => {
    requests++;
    if (!available) return void res.writeHead(503).end();
    const url = new URL(req.url ?? '/', 'http://pccs');
    if (url.pathname === '/tdx/certification/v4/tcb') {
      res.writeHead(200, { 'content-type': 'application/json', 'TCB-Info-Issuer-Chain': encodeURIComponent(c.tcbInfoIssuerChain) }).end(Buffer.from(c.tcbInfoBody));
    } else if (url.pathname === '/tdx/certification/v4/qe/identity') {
      res.writeHead(200, { 'content-type': 'application/json', 'SGX-Enclave-Identity-Issuer-Chain': encodeURIComponent(c.qeIdentityIssuerChain) }).end(Buffer.from(c.qeIdentityBody));
    } else if (url.pathname === '/sgx/certification/v4/pckcrl') {
      res.writeHead(200, { 'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent(c.pckCrlIssuerChain) }).end(Buffer.from(c.pckCrl));
    } else if (url.pathname === '/sgx/certification/v4/rootcacrl') {
      res.writeHead(200).end(Buffer.from(c.rootCaCrl).toString('hex'));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/tdx/certification/v4`,
    requests: () => requests,
    setAvailable: (up) => (available = up),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * `collateralValidForMs`: how long the TCB Info / QE Identity stay valid (default 30 days). Under a day, the
 * operator's collateral cache refreshes on every lookup (it refreshes a day ahead), so a PCCS outage shows at once.
 */
export async function startHardwareEvidence(opts: { now?: Date; collateralValidForMs?: number } = {}): Promise<HardwareEvidence> {
  const now = opts.now ?? new Date();
  const tdx = await tdxResigner({
    quote: new Uint8Array(readFileSync(join(ccelDir, 'quote.bin'))),
    collateralDir,
    validFrom: new Date(now.getTime() - DAY),
    validTo: new Date(now.getTime() + 365 * DAY),
    ...freshCollateralEdits(now, opts.collateralValidForMs),
  });
  const ccelBytes = readFileSync(join(ccelDir, 'ccel_data.bin'));
  const ccel = ccelBytes.toString('base64');
  const ukiSha384 = bootApplicationDigests(replayCcel(parseCcel(new Uint8Array(ccelBytes))))[0]!;

  const pki = makeTestPki();
  const leaves: TestCert[] = Array.from({ length: GPU_COUNT }, (_, i) => makeDeviceLeaf(pki, `GPU ${i} LF`));
  const chainPem = (leaf: TestCert) => [leaf, pki.deviceProvisioner, pki.deviceIdentity, pki.deviceRoot].map((c) => c.pem).join('');
  const rimChain = [pki.rimSigner, pki.rimCa, pki.rimRoot];
  const rimSerials = new Set([serialHex(pki.rimSigner), serialHex(pki.rimCa)]);
  const rims: LocalServer = await startRimService(
    new Map([
      [H100_2023.driverRimId, resignRim(H100_2023.driverRim, pki.rimSigner, rimChain)],
      [H100_2023.vbiosRimId, resignRim(H100_2023.vbiosRim, pki.rimSigner, rimChain)],
    ]),
  );
  const ocsp: LocalServer = await startOcspResponder((req) =>
    makeOcspResponse({
      requestDer: req,
      responder: rimSerials.has(requestedSerial(req)) ? pki.rimResponder : pki.deviceResponder,
      statusOf: () => 'good',
      thisUpdate: new Date(Date.now() - 3_600_000),
      nextUpdate: new Date(Date.now() + 7 * DAY),
    }),
  );
  const pccs = await startPccs(tdx);
  let quotes = 0;
  let gpuReports = 0;

  return {
    anchors: { intelRootCaPem: tdx.rootPem, nvidiaDeviceRootPem: pki.deviceRoot.pem, nvidiaRimRootPem: pki.rimRoot.pem },
    pccsUrl: pccs.url,
    rimServiceUrl: rims.url,
    ocspUrl: ocsp.url,
    ukiSha384,
    attester: ({ gpus = GPU_COUNT } = {}) => ({
      tee: 'tdx',
      primary: (reportData) => {
        quotes++;
        return resignedTdxEvidence(tdx, ccel, reportData);
      },
      ...(gpus > 0
        ? {
            devices: (reportData: Buffer) => {
              // The SPDM nonce is the first 32 bytes of the device runtime-data hash.
              const nonce = new Uint8Array(reportData.subarray(0, 32));
              gpuReports += gpus;
              const list = leaves.slice(0, gpus).map((leaf, i) => kbsEntry(resignReport(leaf, nonce), chainPem(leaf), `GPU-${i}`));
              return { nvidia: { device_evidence_list: list } };
            },
          }
        : {}),
    }),
    produced: () => ({ quotes, gpuReports }),
    requests: () => ({ pccs: pccs.requests(), rim: rims.requests, ocsp: ocsp.requests }),
    setPccsAvailable: (up) => pccs.setAvailable(up),
    close: async () => {
      await Promise.all([pccs.close(), rims.close(), ocsp.close()]);
    },
  };
}

export const PRODUCTION_POLICY_FILE = join(import.meta.dirname, '..', '..', '..', 'policies', 'attestation', 'gn8v-tee-production.yaml');

/**
 * The shipped production policy, parsed from its file; the only edits point the endpoints that serve trust
 * material (PCCS, RIM service, OCSP responder) at the loopback stand-ins. Everything else is verbatim.
 */
export function productionPolicy(hw: Pick<HardwareEvidence, 'pccsUrl' | 'rimServiceUrl' | 'ocspUrl'>): { raw: Record<string, unknown>; spec: AttestationPolicySpec; name: string } {
  const doc = parse(readFileSync(PRODUCTION_POLICY_FILE, 'utf8')) as { metadata: { name: string }; spec: { tdx: Record<string, unknown>; gpu: Record<string, unknown> } };
  doc.spec.tdx.pccsUrl = hw.pccsUrl;
  Object.assign(doc.spec.gpu, { rimServiceUrl: hw.rimServiceUrl, ocspUrl: hw.ocspUrl });
  return { raw: doc.spec, spec: AttestationPolicySpecSchema.parse(doc.spec), name: doc.metadata.name };
}
