// Test helper process: starts a control plane, prints its pids and workDir as one JSON line, then either
// waits to be killed ("hang") or exits without calling stop() ("exit"). Used to prove that the watchdog
// and the exit handlers tear everything down when the owner does not.
import { startControlPlane } from '../../src/envtest/control-plane.ts';

const mode = process.argv[2] ?? 'hang';
const cp = await startControlPlane();
process.stdout.write(JSON.stringify({ ...cp.pids(), workDir: cp.workDir }) + '\n');
if (mode === 'exit') process.exit(0);
setInterval(() => undefined, 60_000);
