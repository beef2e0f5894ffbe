// Boots a simulated guest for a local instance, like the real image's initrd: the trustiflux API
// (resource injection with `sample` evidence bound to an ephemeral TEE key, and a KBS client for pull
// mode) on the guest API port, and the agent's workload endpoint, each on a loopback port.
import type { GuestAttester } from '../guest/attester.ts';
import { startSimulatedGuest, type SimulatedGuest } from '../guest/guest.ts';
import type { GuestLauncher } from './cloud-server.ts';
import { startWorkloadEndpoint } from './workload-endpoint.ts';

export interface LocalGuests {
  launch: GuestLauncher;
  /** The running guest of an instance (tests read what it decrypted; values stay in memory). */
  guest(instanceId: string): SimulatedGuest | undefined;
}

/** `attester`: the evidence every guest presents (default the sample TEE). `pepWorkspace`: see SimulatedGuestOptions. */
export function localGuests(host = '127.0.0.1', opts: { attester?: GuestAttester; pepWorkspace?: string } = {}): LocalGuests {
  const running = new Map<string, SimulatedGuest>();
  return {
    guest: (id) => running.get(id),
    launch: async (record, request) => {
      const workload = await startWorkloadEndpoint(host, request.workload.model);
      const guest = await startSimulatedGuest({
        host,
        manifest: request.manifest,
        ...(request.initData !== undefined ? { initData: request.initData } : {}),
        ...(opts.attester ? { attester: opts.attester } : {}),
        ...(opts.pepWorkspace ? { pepWorkspace: opts.pepWorkspace } : {}),
      });
      running.set(record.id, guest);
      return {
        ports: { [request.workload.port]: workload.port, [request.guestApiPort]: guest.apiPort },
        tee: opts.attester?.tee ?? 'sample',
        close: async () => {
          running.delete(record.id);
          await Promise.all([workload.close(), guest.close()]);
        },
      };
    },
  };
}

/** Launcher for callers that do not inspect guests. */
export function workloadGuestLauncher(host = '127.0.0.1'): GuestLauncher {
  return localGuests(host).launch;
}
