#!/usr/bin/env node
// Stand-alone ECS simulator (no cai CLI needed): `node operator/src/cloud/alibaba/simulator/main.ts
// [--port N] [--host H]`. Prints one JSON line `{ "endpoint": "127.0.0.1:PORT" }` once listening and
// runs until SIGINT/SIGTERM. Point the operator at it with provider alibaba, endpoint and protocol http.
import { parseArgs } from 'node:util';
import { startEcsSimulator } from './server.ts';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`ecs-simulator: --port must be an integer in [0, 65535], got "${values.port}"\n`);
  process.exit(2);
}
const sim = await startEcsSimulator({ port, host: values.host });
process.stdout.write(`${JSON.stringify({ endpoint: `${values.host}:${sim.port}`, protocol: 'http' })}\n`);
const stop = (): void => {
  void sim.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
