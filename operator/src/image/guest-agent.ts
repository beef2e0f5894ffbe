// The guest agent of the `dev` image: PID-1's child, started by the initrd from the dm-verity rootfs.
// It runs the same simulated guest the `local` provider's process backend runs (trustiflux-style resource
// injection with `sample` evidence — NOT a confidential VM) on the guest API port, and the workload
// endpoint, and hands the disk key to the initrd through a FIFO on /run (RAM only) once the operator has
// attested the guest and released it. It also serves the firmware's TCG event log so a verifier can replay
// what the firmware measured. Everything it reads from the network is bounded by the simulated guest.
import { createReadStream } from 'node:fs';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createConnection, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { startSimulatedGuest } from '../sim/guest/guest.ts';
import { startWorkloadEndpoint } from '../sim/local/workload-endpoint.ts';

export interface GuestAgentConfig {
  diskKeyResource: string;
  guestApiPort: number;
  infoPort: number;
  workloadPort: number;
  workloadModel: string;
  keyFifo: string;
  dataReady: string;
  agentReady: string;
  eventLog: string;
}

const EVENT_LOG_MAX = 1024 * 1024;
/** The disk key is a passphrase: printable ASCII, no whitespace, 16-512 characters. */
export const DISK_KEY_PATTERN = /^[\x21-\x7e]{16,512}$/;

/** Forwards a fixed public port to a loopback server whose port is chosen at random. */
function forward(listenPort: number, targetPort: number): Promise<TcpServer> {
  const server = createTcpServer((c) => {
    const up = createConnection({ host: '127.0.0.1', port: targetPort });
    c.pipe(up).pipe(c);
    const end = () => {
      c.destroy();
      up.destroy();
    };
    c.on('error', end);
    up.on('error', end);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '0.0.0.0', () => resolve(server));
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

function infoServer(cfg: GuestAgentConfig, key: { state: string }): Server {
  return createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/tcg-eventlog') {
      stat(cfg.eventLog).then(
        () => {
          // securityfs reports size 0; stream with a cap instead.
          let sent = 0;
          const s = createReadStream(cfg.eventLog, { highWaterMark: 64 * 1024 });
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          s.on('data', (chunk) => {
            sent += chunk.length;
            if (sent > EVENT_LOG_MAX) s.destroy();
            else res.write(chunk);
          });
          s.on('close', () => res.end());
          s.on('error', () => res.end());
        },
        () => res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no TCG event log (no TPM?)"}'),
      );
      return;
    }
    if (req.method === 'GET' && req.url === '/status') {
      void exists(cfg.dataReady).then((mounted) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ diskKey: key.state, dataMounted: mounted }));
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
}

export async function runGuestAgent(cfg: GuestAgentConfig): Promise<void> {
  const workload = await startWorkloadEndpoint('127.0.0.1', cfg.workloadModel);
  const guest = await startSimulatedGuest({ host: '127.0.0.1', manifest: [] });
  const key = { state: 'waiting' };
  await forward(cfg.guestApiPort, guest.apiPort);
  await forward(cfg.workloadPort, workload.port);
  const info = infoServer(cfg, key);
  await new Promise<void>((resolve) => info.listen(cfg.infoPort, '0.0.0.0', () => resolve()));
  await writeFile(cfg.agentReady, '');
  process.stdout.write(`cai-guest-agent: serving guest API :${cfg.guestApiPort}, workload :${cfg.workloadPort}, info :${cfg.infoPort}\n`);

  // The initrd waits (bounded) on the FIFO; a key that is not a passphrase is refused as an empty line,
  // so the initrd powers off at once instead of at its deadline.
  const value = await guest.waitForResource(cfg.diskKeyResource, 24 * 3600 * 1000);
  const ok = DISK_KEY_PATTERN.test(value.toString('latin1'));
  key.state = ok ? 'delivered' : 'refused';
  const fifo = await open(cfg.keyFifo, 'w');
  try {
    await fifo.write(ok ? Buffer.concat([value, Buffer.from('\n')]) : Buffer.from('\n'));
  } finally {
    await fifo.close();
  }
  process.stdout.write(`cai-guest-agent: disk key ${key.state}\n`);
}

const isMain = process.argv[1] !== undefined && import.meta.filename === process.argv[1];
if (isMain) {
  const cfgPath = process.argv[2] ?? '/etc/cai/agent.json';
  runGuestAgent(JSON.parse(await readFile(cfgPath, 'utf8')) as GuestAgentConfig).catch((err: unknown) => {
    process.stderr.write(`cai-guest-agent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
