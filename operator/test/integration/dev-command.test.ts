// The README's first command: `make dev` runs `cai dev`. With --exit-when-ready it must bring the example
// agent to Ready on a local control plane and tear everything down again.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { OPERATOR_NODE_FLAGS } from '../../src/app/node-flags.ts';
import { processAlive } from '../envtest/index.ts';
import { CLI } from '../support/operator.ts';

describe('cai dev', () => {
  it('brings the example agent to Ready, then stops the control plane it started', async () => {
    const proc = spawn(process.execPath, [...OPERATOR_NODE_FLAGS, CLI, 'dev', '--exit-when-ready', '--timeout', '120'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
    expect(code, out).toBe(0);
    expect(out).toContain('applied SealedCredential/openclaw-config-openclaw-vllm-config');
    expect(out).toMatch(/CredentialsReleased\s+True Delivered/);
    expect(out).toContain('agent demo-agent is Ready');
    expect(out).toMatch(/EndpointReady\s+True Serving/);
    expect(out).toMatch(/endpoint: Service demo-agent\.default\.svc:18789 → TNG gateway \(rats-tls, verified under default\/[a-z0-9-]+\/demo-agent\)/);
    expect(out).toContain('cai connect demo-agent -n default');
    // The control plane's processes are gone (their pids are not printed; the kubeconfig dir is).
    const dir = /KUBECONFIG=(\S+)\/kubeconfig/.exec(out)?.[1] ?? '';
    expect(dir).not.toBe('');
    const { existsSync } = await import('node:fs');
    expect(existsSync(dir)).toBe(false);
    expect(processAlive(proc.pid ?? 0)).toBe(false);
  });

  it('--provider alibaba provisions the example through the real ECS SDK against the simulator', async () => {
    const proc = spawn(process.execPath, [...OPERATOR_NODE_FLAGS, CLI, 'dev', '--provider', 'alibaba', '--exit-when-ready', '--timeout', '120'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
    expect(code, out).toBe(0);
    expect(out).toContain('ECS API simulator at http://127.0.0.1:');
    expect(out).toMatch(/Provisioned\s+True InstanceRunning: instance i-[0-9a-f]+ is running at 127\.10\./);
    expect(out).not.toContain('dev-simulator-only-not-a-secret');
  });
});
