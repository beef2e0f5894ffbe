// Boots a simulated guest for a local instance: the agent's workload endpoint (and, once the release
// module provides it, the trustiflux API with the sample TEE), each on a loopback port.
import type { GuestLauncher } from './cloud-server.ts';
import { startWorkloadEndpoint } from './workload-endpoint.ts';

export function workloadGuestLauncher(host = '127.0.0.1'): GuestLauncher {
  return async (_record, request) => {
    const workload = await startWorkloadEndpoint(host, request.workload.model);
    return { ports: { [request.workload.port]: workload.port }, close: () => workload.close() };
  };
}
