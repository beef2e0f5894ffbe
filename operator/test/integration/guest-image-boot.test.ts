// Boot proof of the `dev` guest image under measured-boot firmware: QEMU (KVM when it really works,
// TCG otherwise) + OVMF + a swtpm vTPM, booted by the local provider's qemu backend.
//  - the firmware's TCG event log, reported by the guest, holds the EV_EFI_BOOT_SERVICES_APPLICATION
//    event for \EFI\BOOT\BOOTX64.EFI whose SHA-384 equals what `cai refvalues publish --uki` published;
//  - the operator attests the guest (sample TEE: development evidence, no hardware root of trust) and
//    releases the disk key by the challenge protocol through a 127.0.0.1 host-forward; the initrd opens
//    (first boot: creates) the LUKS2 data volume with it;
//  - fail closed: a wrong key on the formatted disk, a flipped rootfs byte (dm-verity) and a changed
//    kernel command line (a different UKI digest, refused by the reference value) each end with the VM
//    powered off and nothing mounted.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { execFile as execFileCb } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AttestationPolicySpecSchema } from '../../src/api/attestation-policy.ts';
import { GROUP, VERSION } from '../../src/api/common.ts';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { defaultVerifierRegistry } from '../../src/attestation/registry.ts';
import { runCli } from '../../src/cli/main.ts';
import { startLocalCloud, type LocalCloud } from '../../src/sim/local/cloud-server.ts';
import { qemuGuestLauncher, startQemuGuest, type ImagePorts, type QemuGuest } from '../../src/sim/local/qemu.ts';
import type { BuildResult } from '../../src/image/build.ts';
import { bootApplications, checkUkiMeasured, MAX_EVENT_LOG_BYTES } from '../../src/image/measured-boot.ts';
import { readBodyBounded } from '../../src/net/bounded-body.ts';
import { challengeVerifier, injectResource, type InjectOptions } from '../../src/release/challenge.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { buildDev, chooseAccel, devProfile } from '../support/guest-image.ts';
import { conditionOf, createCustom, getAgent, localAgent, startTestOperator } from '../support/operator.ts';
import { TestRekorServer } from '../support/rekor-log/server.ts';

const execFile = promisify(execFileCb);
const controlPlane = useControlPlane();
const OPERATOR_NS = 'cai-system';
const DISK_KEY = 'disk-passphrase-7c1e9a0b4f2d8e63';
const WRONG_KEY = 'not-the-disk-key-0000000000000000';
const dir = mkdtempSync(join(tmpdir(), 'cai-image-boot-'));
const rekor = new TestRekorServer();
const BOOT_MS = 300_000;

async function cli(args: string[]): Promise<string> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => void (out += t), stderr: (t) => void (err += t), readStdin: async () => Buffer.alloc(0), env: { COSIGN_PASSWORD: '' } });
  expect(code, err).toBe(0);
  return out;
}

async function sealDiskKey(kc: KubeConfig, ns: string, resourcePath: string): Promise<Record<string, unknown>> {
  const cm = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'confidential-agent-sealing-cert', namespace: OPERATOR_NS });
  writeFileSync(join(dir, 'cert.pem'), cm.data?.['cert.pem'] ?? '');
  return parse(await cli(['seal', '--cert', join(dir, 'cert.pem'), '--from-literal', DISK_KEY, '--name', 'disk-key', '--namespace', ns, '--resource-path', resourcePath, '--agent', 'imaged'])) as Record<string, unknown>;
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return JSON.parse(new TextDecoder().decode(await readBodyBounded(res, 64 * 1024))) as unknown;
}

async function eventLog(g: QemuGuest, ports: ImagePorts): Promise<Uint8Array> {
  const res = await fetch(`http://127.0.0.1:${g.hostPorts[ports.info]}/tcg-eventlog`, { signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(200);
  return readBodyBounded(res, MAX_EVENT_LOG_BYTES);
}

/** Waits for QEMU to exit by itself (the guest powered off) and returns the serial console. */
async function poweredOff(g: QemuGuest, timeoutMs: number): Promise<string> {
  const r = await Promise.race([g.exited, new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), timeoutMs))]);
  const serial = await g.serialLog();
  expect(r, `guest still running after ${timeoutMs} ms; console:\n${serial.slice(-3000)}`).not.toBe('timeout');
  return serial;
}

const policy = (name: string, spec: Record<string, unknown>) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: 'AttestationPolicy', metadata: { name }, spec });

describe('dev guest image under OVMF + vTPM', () => {
  let image: BuildResult;
  let published: string;
  let accel: 'kvm' | 'tcg';
  let ports: ImagePorts;
  let diskKeyPath: string;
  let cloud: LocalCloud;
  let operator: OperatorHandle;
  let ns: string;
  const boots = new Map<string, QemuGuest>();
  const extra: QemuGuest[] = [];
  let firstDisk: string | undefined;

  beforeAll(async () => {
    const profile = await devProfile();
    ports = { guestApi: profile.rootfs.guestApiPort, workload: profile.rootfs.workloadPort, info: profile.rootfs.infoPort };
    diskKeyPath = profile.disk.diskKeyResource;
    image = await buildDev(join(dir, 'out'));
    // Publish as the release pipeline does; the test compares the firmware's measurement with this file.
    await rekor.start();
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'cosign.key'), kp.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'trusted_root.json'), rekor.trustedRootJson());
    mkdirSync(join(dir, 'pub'));
    await cli(['refvalues', 'publish', '--uki', image.files.uki, '--artifact-id', 'cai-dev', '--artifact-version', '1', '--key', join(dir, 'cosign.key'),
      '--rekor-url', rekor.url, '--trusted-root', join(dir, 'trusted_root.json'), '--output-prefix', join(dir, 'pub', 'cai-dev')]);
    published = (JSON.parse(readFileSync(join(dir, 'pub', 'cai-dev.json'), 'utf8')) as Record<string, string[]>)['measurement.uki.SHA-384']![0]!;
    accel = await chooseAccel();
    cloud = await startLocalCloud({
      launchGuest: qemuGuestLauncher({ image: image.files.qcow2, ports, accel, keep: true, onBoot: (id, g) => boots.set(id, g) }),
      pendingMs: 5,
    });
    const kc = controlPlane().kubeConfig();
    operator = await startTestOperator(kc, ['--local-cloud-url', cloud.url, '--operator-namespace', OPERATOR_NS, '--gc-interval', '3600']);
    ns = await createNamespace(kc, 'image');
    await createCustom(kc, 'attestationpolicies', ns, policy('dev', { allowSampleTee: true, minimumStatus: 'warning' }));
  }, BOOT_MS);

  afterAll(async () => {
    await operator?.stop();
    await cloud?.close();
    for (const g of [...boots.values(), ...extra]) await g.close();
    // The cloud's guests were kept for the wrong-key boot; remove their disks and logs now.
    for (const g of boots.values()) await rm(g.workDir, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
    await rekor.stop();
  });

  it('boots; the firmware-measured BOOTX64.EFI digest is the published one; the operator releases the disk key after attestation and LUKS2 opens', async () => {
    const kc = controlPlane().kubeConfig();
    await createCustom(kc, 'sealedcredentials', ns, await sealDiskKey(kc, ns, diskKeyPath));
    await createCustom(kc, 'confidentialagents', ns, localAgent('imaged', 'dev', { credentials: [{ name: 'disk-key' }] }));
    const agent = await waitFor('agent Ready=True', async () => {
      const a = await getAgent(kc, ns, 'imaged');
      return conditionOf(a, 'Ready')?.status === 'True' ? a : undefined;
    }, { timeoutMs: BOOT_MS - 20_000, intervalMs: 1000 });
    expect(conditionOf(agent, 'Attested')).toMatchObject({ status: 'True', reason: 'AcceptedByPolicy' });
    expect(agent.status?.attestation).toMatchObject({ teeType: 'sample' });
    const g = boots.get(agent.status?.instance?.id ?? '');
    expect(g).toBeDefined();
    firstDisk = g!.disk;

    // The guest reports the firmware's event log; the UKI event carries the published digest.
    const log = await eventLog(g!, ports);
    const apps = bootApplications(log);
    const uki = apps.find((a) => /\\EFI\\BOOT\\BOOTX64\.EFI/i.test(a.devicePath));
    expect(uki, `boot applications: ${JSON.stringify(apps)}`).toBeDefined();
    expect(uki!.pcr).toBe(4);
    expect(uki!.sha384).toBe(published);
    expect(uki!.sha384).toBe(image.ukiSha384);
    expect(checkUkiMeasured(log, [published])).toMatchObject({ ok: true });

    // The released key opened the data volume, after the agent had come up waiting for it.
    const status = await waitFor('data volume mounted', async () => {
      const s = (await getJson(`http://127.0.0.1:${g!.hostPorts[ports.info]}/status`)) as { diskKey: string; dataMounted: boolean };
      return s.dataMounted ? s : undefined;
    }, { timeoutMs: 120_000, intervalMs: 1000 });
    expect(status).toEqual({ diskKey: 'delivered', dataMounted: true });
    const serial = await g!.serialLog();
    const order = ['cai-guest-agent: serving', 'cai-guest-agent: disk key delivered', 'cai-init: data volume open'].map((m) => serial.indexOf(m));
    expect(order.every((i) => i >= 0), serial.slice(-3000)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(serial).not.toContain(DISK_KEY);
  }, BOOT_MS);

  it('a wrong key on the formatted data volume: the guest powers off, nothing mounted', async () => {
    expect(firstDisk, 'needs the disk the first boot formatted').toBeDefined();
    for (const g of boots.values()) await g.close(); // clean QEMU shutdown keeps the overlay
    const g = await startQemuGuest({ image: image.files.qcow2, overlay: firstDisk!, ports, accel });
    extra.push(g);
    const verify = challengeVerifier({ registry: defaultVerifierRegistry(), policy: AttestationPolicySpecSchema.parse({ allowSampleTee: true, minimumStatus: 'warning' }), policyId: 'dev', referenceValues: [] });
    const inject: InjectOptions = { baseUrl: `http://127.0.0.1:${g.hostPorts[ports.guestApi]}`, resourcePath: diskKeyPath, plaintext: Buffer.from(WRONG_KEY), tee: 'sample', verify, retry: { attempts: 60, baseDelayMs: 2000, maxDelayMs: 5000 } };
    const r = await injectResource(inject);
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const serial = await poweredOff(g, 120_000);
    expect(serial).toContain('cai-init: FATAL: the released key does not open the LUKS2 data volume');
    expect(serial).not.toContain('cai-init: data volume open');
  }, BOOT_MS);

  it('a flipped byte in the root filesystem: dm-verity refuses the block, the guest never serves its agent', async () => {
    const raw = join(dir, 'flip.raw');
    await execFile('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', image.files.qcow2, raw]);
    const bytes = await readFile(raw);
    // A byte of the guest agent's own source: without dm-verity erofs would read it happily.
    const marker = Buffer.from('The guest agent of the `dev` image');
    const at = bytes.indexOf(marker);
    expect(at).toBeGreaterThan(64 * 1024 * 1024);
    expect(bytes.indexOf(marker, at + 1)).toBe(-1);
    bytes[at + 4] = bytes[at + 4]! ^ 0x20;
    await writeFile(raw, bytes);
    const flipped = join(dir, 'flip.qcow2');
    await execFile('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, flipped]);
    const g = await startQemuGuest({ image: flipped, ports, accel });
    extra.push(g);
    const serial = await poweredOff(g, 200_000);
    expect(serial).toMatch(/verity.*(corrupt|mismatch)|Kernel panic/i);
    expect(serial).not.toContain('cai-guest-agent: serving');
  }, BOOT_MS);

  it('a changed kernel command line: another UKI digest, refused by the measurement.uki.SHA-384 reference value; no key, the guest powers off', async () => {
    const changed = await buildDev(join(dir, 'changed'), { cmdlineAppend: ['cai.debug=1'] });
    expect(changed.ukiSha384).not.toBe(published);
    const g = await startQemuGuest({ image: changed.files.qcow2, ports, accel });
    extra.push(g);
    // The operator's challenge verification, gated on the firmware's UKI measurement. The vTPM log is
    // not quoted here (no TPM quote in this test), so this shows the reference-value comparison; on TDX
    // the same comparison runs on the CCEL replayed to the quote's RTMRs (policy rule UkiMismatch).
    const base = challengeVerifier({ registry: defaultVerifierRegistry(), policy: AttestationPolicySpecSchema.parse({ allowSampleTee: true, minimumStatus: 'warning' }), policyId: 'dev', referenceValues: [] });
    const verify: InjectOptions['verify'] = async (evidence, nonce, key) => {
      const uki = checkUkiMeasured(await eventLog(g, ports), [published]);
      if (!uki.ok) return { ok: false, code: uki.code, message: uki.message };
      return base(evidence, nonce, key);
    };
    const r = await injectResource({ baseUrl: `http://127.0.0.1:${g.hostPorts[ports.guestApi]}`, resourcePath: diskKeyPath, plaintext: Buffer.from(DISK_KEY), tee: 'sample', verify, retry: { attempts: 60, baseDelayMs: 2000, maxDelayMs: 5000 } });
    expect(r).toMatchObject({ ok: false, code: 'VerificationFailed', verification: { code: 'UkiMismatch' } });
    expect(r.ok ? '' : r.message).toContain('measurement.uki.SHA-384');
    const serial = await poweredOff(g, 120_000);
    expect(serial).toContain('cai-init: FATAL: no disk key released within');
    expect(serial).not.toContain('cai-init: data volume open');
  }, BOOT_MS);
});
