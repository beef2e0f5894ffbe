// Helpers for integration tests that run the operator against the real control plane: in-process
// (startOperator) or as a child process (for crash/restart tests), plus typed CR access.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import pino, { type Logger } from 'pino';
import { GROUP, VERSION } from '../../src/api/common.ts';
import type { ConfidentialAgent } from '../../src/api/confidential-agent.ts';
import { parseOperatorConfig, type OperatorConfig } from '../../src/app/config.ts';
import { OPERATOR_NODE_FLAGS } from '../../src/app/node-flags.ts';
import { startOperator, type OperatorHandle } from '../../src/app/operator.ts';
import { createLogger } from '../../src/runtime/logging.ts';

export const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
export const CLI = join(REPO_ROOT, 'operator', 'src', 'cli', 'main.ts');

/** Test defaults: loopback, random ports, no leader election unless asked, the `local` provider unless others are named. */
export function testConfig(extra: string[] = []): OperatorConfig {
  return parseOperatorConfig(
    ['--http-host', '127.0.0.1', '--http-port', '0', '--kbs-host', '127.0.0.1', '--kbs-port', '0', ...(extra.includes('--as-bind-address') ? [] : ['--as-bind-address', '127.0.0.1:0']), '--leader-elect', 'false', '--workers', '4', ...localUnlessNamed(extra), ...extra],
    {},
  );
}

/** The simulated provider is opt-in (never a default): tests ask for it explicitly. */
const localUnlessNamed = (extra: string[]) => (extra.includes('--providers') ? [] : ['--providers', 'local']);

export async function startTestOperator(kc: KubeConfig, extra: string[] = [], logger?: Logger): Promise<OperatorHandle> {
  return startOperator(testConfig(extra), { kubeConfig: kc, logger: logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
}

/** A debug-level logger whose JSON lines are kept in memory (for "no secret in any log line" checks). */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  // The operator's own logger (with its redaction list), writing into memory.
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(line) } });
  return { logger, lines };
}

export interface SpawnedOperator {
  proc: ChildProcess;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs `cai operator` as its own process, so a test can SIGKILL it. `entry` replaces the CLI with a script
 * taking the same arguments (e.g. one that starts the operator with test trust anchors); `env` is added.
 */
export function spawnOperator(kubeconfigPath: string, extra: string[], opts: { entry?: string; env?: Record<string, string> } = {}): SpawnedOperator {
  const proc = spawn(process.execPath, [...OPERATOR_NODE_FLAGS, opts.entry ?? CLI, 'operator', '--kubeconfig', kubeconfigPath, ...testArgs(extra)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'debug', ...opts.env },
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return {
    proc,
    output: () => out,
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill(signal);
      }),
  };
}

function testArgs(extra: string[]): string[] {
  const has = (flag: string) => extra.includes(flag);
  return [
    ...(has('--http-port') ? [] : ['--http-host', '127.0.0.1', '--http-port', '0']),
    ...(has('--kbs-port') ? [] : ['--kbs-host', '127.0.0.1', '--kbs-port', '0']),
    ...(has('--as-bind-address') ? [] : ['--as-bind-address', '127.0.0.1:0']),
    ...(has('--leader-elect') ? [] : ['--leader-elect', 'false']),
    ...localUnlessNamed(extra),
    ...extra,
  ];
}

export function customObjects(kc: KubeConfig): CustomObjectsApi {
  return kc.makeApiClient(CustomObjectsApi);
}

export async function createCustom(kc: KubeConfig, plural: string, namespace: string, body: object): Promise<void> {
  await customObjects(kc).createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, body });
}

export async function getAgent(kc: KubeConfig, namespace: string, name: string): Promise<ConfidentialAgent | undefined> {
  try {
    return (await customObjects(kc).getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'confidentialagents', name })) as ConfidentialAgent;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

export function conditionOf(agent: { status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } } | undefined, type: string) {
  return agent?.status?.conditions?.find((c) => c.type === type);
}

export function samplePolicy(name: string) {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: 'AttestationPolicy', metadata: { name }, spec: { allowSampleTee: true, minimumStatus: 'warning' } };
}

export function localAgent(name: string, policy: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'ConfidentialAgent',
    metadata: { name },
    spec: { instance: { local: { bootDelaySeconds: 0 } }, attestationPolicyRef: { name: policy }, ...extra },
  };
}
