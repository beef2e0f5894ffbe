// Boots a simulated guest for a local instance, like the real image's initrd: the trustiflux API
// (resource injection with `sample` evidence bound to an ephemeral TEE key, and a KBS client for pull
// mode) on the guest API port, and the agent's workload endpoint, each on a loopback port. With `tng`,
// also the guest's attested endpoint as the real image has it: the guest's ASR (sample evidence carrying
// the agent's init-data digest) and the real TNG egress (coco_asr, background check) in front of the
// workload, reachable at guest port ENDPOINT_EGRESS_PORT. With `workload: 'openclaw'` the workload is the
// real OpenClaw gateway; otherwise the model stub answers /health itself.
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { agentInitDataDigest } from '../../protocol/agent-init-data.ts';
import { renderEgress } from '../../protocol/tng-config.ts';
import type { GuestAttester } from '../guest/attester.ts';
import type { LocalInstanceRecord, CreateLocalInstanceBody } from '../../cloud/local/types.ts';
import { startAsr, type AsrServer } from '../guest/asr.ts';
import { startOpenClaw, type OpenClawWorkload } from './openclaw-workload.ts';
import { runTng, type TngRunner } from './tng-process.ts';
import { startSimulatedGuest, type SimulatedGuest, type SimulatedGuestOptions } from '../guest/guest.ts';
import type { GuestLauncher } from './cloud-server.ts';
import { startWorkloadEndpoint } from './workload-endpoint.ts';

export interface LocalGuests {
  launch: GuestLauncher;
  /** The running guest of an instance (tests read what it decrypted; values stay in memory). */
  guest(instanceId: string): SimulatedGuest | undefined;
}

/** Guest port of the TNG egress (spec.endpoint.egressPort's default). */
export const ENDPOINT_EGRESS_PORT = 41000;

export interface LocalGuestOptions {
  /** The evidence the guest API presents (default the sample TEE). */
  attester?: GuestAttester;
  /** See SimulatedGuestOptions. */
  pepWorkspace?: string;
  /** Run the real TNG egress (binary from hack/tng/install.sh) in front of the workload. */
  tng?: { binary: string };
  /** 'openclaw': the real OpenClaw gateway (tens of seconds to start); default the model stub alone. */
  workload?: 'stub' | 'openclaw';
  /** Per-instance guest behaviour (tests: e.g. hostile KBS evidence for some agents). */
  perInstance?: (record: LocalInstanceRecord, request: CreateLocalInstanceBody) => Pick<SimulatedGuestOptions, 'kbsEvidence'> | undefined;
}

export function localGuests(host = '127.0.0.1', opts: LocalGuestOptions = {}): LocalGuests {
  const running = new Map<string, SimulatedGuest>();
  return {
    guest: (id) => running.get(id),
    launch: async (record, request) => {
      const closers: Array<() => Promise<void>> = [];
      const closeAll = () => Promise.all(closers.splice(0).map((c) => c().catch(() => undefined))).then(() => undefined);
      try {
        const model = await startWorkloadEndpoint(host, request.workload.model);
        closers.push(() => model.close());
        let app: OpenClawWorkload | undefined;
        if (opts.workload === 'openclaw') {
          app = await startOpenClaw(host, await freePort(host));
          closers.push(() => app!.close());
        }
        const workloadPort = app?.port ?? model.port;
        const guest = await startSimulatedGuest({
          host,
          manifest: request.manifest,
          ...(request.initData !== undefined ? { initData: request.initData } : {}),
          ...(opts.attester ? { attester: opts.attester } : {}),
          ...(opts.pepWorkspace ? { pepWorkspace: opts.pepWorkspace } : {}),
          ...opts.perInstance?.(record, request),
        });
        closers.push(() => guest.close());
        let egressPort: number | undefined;
        if (opts.tng) {
          const asr: AsrServer = await startAsr({ host, initDataDigest: agentInitDataDigest(request.owner) });
          closers.push(() => asr.close());
          egressPort = await freePort(host);
          const tng: TngRunner = runTng(opts.tng.binary, renderEgress({ listen: { host, port: egressPort }, workload: { host, port: workloadPort }, mode: 'rats-tls', attester: { asr: asr.url } }));
          closers.unshift(() => tng.stop());
          await waitForListener(host, egressPort, tng);
        }
        running.set(record.id, guest);
        const ports: Record<number, number> = { [request.workload.port]: workloadPort, [request.guestApiPort]: guest.apiPort };
        if (egressPort) ports[ENDPOINT_EGRESS_PORT] = egressPort;
        return {
          ports,
          tee: opts.attester?.tee ?? 'sample',
          close: async () => {
            running.delete(record.id);
            await closeAll();
          },
        };
      } catch (err) {
        await closeAll();
        throw err;
      }
    },
  };
}

async function freePort(host: string): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, host, () => resolve());
  });
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function waitForListener(host: string, port: number, tng: TngRunner, timeoutMs = 20_000): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (tng.child.exitCode !== null) throw new Error(`TNG egress exited at start: ${tng.output().slice(-2000)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, host, () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`TNG egress did not listen on ${host}:${port}: ${tng.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Launcher for callers that do not inspect guests. */
export function workloadGuestLauncher(host = '127.0.0.1', opts: LocalGuestOptions = {}): GuestLauncher {
  return localGuests(host, opts).launch;
}
