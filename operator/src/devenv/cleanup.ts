// Last-resort teardown inside the owning process: on exit and on SIGINT/SIGTERM/SIGHUP every live
// control plane is killed synchronously and its work directory removed. (SIGKILL of the owner cannot
// be caught; the detached watchdog covers that case.)
type Teardown = () => void;

const live = new Set<Teardown>();
let installed = false;

function runAll(): void {
  for (const teardown of live) {
    try {
      teardown();
    } catch {
      // keep tearing down the others
    }
  }
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  // Re-raise with default behaviour when nobody else handles the signal, so the process still dies.
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

export function registerTeardown(teardown: Teardown): () => void {
  if (!installed) {
    installed = true;
    process.on('exit', runAll);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  }
  live.add(teardown);
  return () => live.delete(teardown);
}
