import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { command } from './verify-tdx.ts';
import type { CliIO } from '../command.ts';
import { CCEL_FIXTURES, TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  const cli: CliIO = { stdout: (t) => out.push(t), stderr: (t) => err.push(t), readStdin: () => Promise.resolve(Buffer.alloc(0)), env: {} };
  return { cli, out: () => out.join(''), err: () => err.join('') };
}

const cos = join(CCEL_FIXTURES, 'gcp-cos113-go-tdx-guest');
const collateral = join(TDX_FIXTURES, 'v4-00806f050000', 'collateral-2025-06');

describe('cai verify tdx', () => {
  it('verifies quote + event log and prints JSON claims (exit 0)', async () => {
    const t = io();
    const code = await command.run(['--quote', join(cos, 'quote.bin'), '--eventlog', join(cos, 'ccel_data.bin'), '--collateral', collateral, '--at', '2025-06-05T03:45:00Z', '--json'], t.cli);
    expect(code).toBe(0);
    const out = JSON.parse(t.out()) as { verified: boolean; claims: Record<string, unknown>; events: { type: string }[] };
    expect(out.verified).toBe(true);
    expect(out.claims.event_log).toBe('verified');
    expect(out.claims.tcb_status).toBe('UpToDate');
    expect(out.events.filter((e) => e.type === 'EV_EFI_BOOT_SERVICES_APPLICATION')).toHaveLength(2);
  });

  it('accepts a hex-encoded quote file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cai-tdx-'));
    const hexFile = join(dir, 'quote.hex');
    writeFileSync(hexFile, readFileSync(join(cos, 'quote.bin')).toString('hex'));
    const t = io();
    expect(await command.run(['--quote', hexFile, '--collateral', collateral, '--at', '2025-06-05T03:45:00Z'], t.cli)).toBe(0);
    expect(t.out()).toMatch(/^VERIFIED {2}TCB status UpToDate/);
    expect(t.out()).toMatch(/event_log\s+absent/);
  });

  it('exits 1 with the reason when the collateral has expired', async () => {
    const t = io();
    const code = await command.run(['--quote', join(cos, 'quote.bin'), '--collateral', collateral, '--at', '2025-08-01T00:00:00Z'], t.cli);
    expect(code).toBe(1);
    expect(t.out()).toMatch(/^REJECTED {2}\w+Expired: /);
  });

  it('exits 1 when the event log does not replay to the quote', async () => {
    const t = io();
    const other = join(CCEL_FIXTURES, 'logs-without-quote', 'trustee_CCEL_data_gcp_uki.bin');
    const code = await command.run(['--quote', join(cos, 'quote.bin'), '--eventlog', other, '--collateral', collateral, '--at', '2025-06-05T03:45:00Z', '--json'], t.cli);
    expect(code).toBe(1);
    expect((JSON.parse(t.out()) as { failure: { code: string } }).failure.code).toBe('RtmrMismatch');
  });

  it('fetches collateral from --pccs (local PCCS) and verifies', async () => {
    const f = (name: string) => readFileSync(join(collateral, name));
    const chain = (name: string) => encodeURIComponent(f(name).toString('utf8'));
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path.endsWith('/tdx/certification/v4/tcb')) res.writeHead(200, { 'TCB-Info-Issuer-Chain': chain('tcb_info_issuer_chain.pem') }).end(f('tcb_info.json'));
      else if (path.endsWith('/qe/identity')) res.writeHead(200, { 'SGX-Enclave-Identity-Issuer-Chain': chain('tcb_info_issuer_chain.pem') }).end(f('qe_identity.json'));
      else if (path.endsWith('/pckcrl')) res.writeHead(200, { 'SGX-PCK-CRL-Issuer-Chain': chain('pck_crl_issuer_chain.pem') }).end(f('pck_crl.der'));
      else if (path.endsWith('/rootcacrl')) res.writeHead(200).end(f('root_ca_crl.der').toString('hex'));
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tdx/certification/v4`;
      const t = io();
      // The fixture collateral is from June 2025, so the verification time is pinned inside its window.
      const code = await command.run(['--quote', join(cos, 'quote.bin'), '--pccs', url, '--at', '2025-06-05T03:45:00Z'], t.cli);
      expect(t.out()).toMatch(/^VERIFIED/);
      expect(code).toBe(0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('exits 2 on usage errors', async () => {
    for (const args of [[], ['--quote', 'x', '--collateral', 'a', '--pccs', 'b'], ['--quote', join(cos, 'quote.bin'), '--at', 'yesterday'], ['--bogus']]) {
      const t = io();
      expect(await command.run(args, t.cli), args.join(' ')).toBe(2);
      expect(t.err().length).toBeGreaterThan(10);
    }
  });
});
