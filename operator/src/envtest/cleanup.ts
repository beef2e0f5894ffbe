// Last-resort teardown inside the owning process: on exit, and on SIGINT/SIGTERM/SIGHUP when nothing
// else handles the signal, every live control plane is killed synchronously and its work directory
// removed. An owner that handles the signal itself (e.g. `cai dev` stopping the operator first) keeps
// the control plane until it calls stop() or exits. (SIGKILL of the owner cannot be caught; the
// detached watchdog covers that case.)
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
  if (process.listenerCount(signal) > 1) return; // the owner handles it; the exit handler stays armed
  runAll();
  // Re-raise with default behaviour, so the process still dies of the signal.
  process.removeListener(signal, onSignal);
  process.kill(process.pid, signal);
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
