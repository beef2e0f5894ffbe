// Test support for the PEP: a workspace the sandbox user can write, and the default policy bound to it.
import { chownSync, mkdtempSync, readdirSync as readdirSyncImport, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parsePolicy, type PepPolicy } from '../../src/pep/policy.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');
/** The uid the sandbox drops to when the tests run as root (sandbox.ts default). */
export const SANDBOX_UID = 65534;

export interface TestWorkspace {
  dir: string;
  cleanup(): void;
}

export function makeWorkspace(): TestWorkspace {
  const dir = mkdtempSync(path.join(tmpdir(), 'pep-ws-'));
  if (process.getuid?.() === 0) chownSync(dir, SANDBOX_UID, SANDBOX_UID);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function defaultPolicyText(): string {
  return readFileSync(path.join(REPO_ROOT, 'policies/pep/default.json'), 'utf8');
}

/** The default policy with its workspace at `dir` (mounted at /workspace) and optional limit changes. */
export function policyFor(dir: string, limits: Partial<PepPolicy['limits']> = {}): PepPolicy {
  const p = parsePolicy(defaultPolicyText()).policy;
  p.workspace.hostPath = dir;
  p.limits = { ...p.limits, ...limits };
  return p;
}

/** Processes (pids) running as `uid` right now, read from /proc. */
export function processesOf(uid: number): number[] {
  const out: number[] = [];
  for (const ent of readdirSafe('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    try {
      const status = readFileSync(`/proc/${ent}/status`, 'utf8');
      const m = status.match(/^Uid:\s+(\d+)/m);
      const zombie = /^State:\s+Z/m.test(status);
      if (m && Number(m[1]) === uid && !zombie) out.push(Number(ent));
    } catch {
      // gone
    }
  }
  return out;
}

function readdirSafe(p: string): string[] {
  try {
    return readdirSyncImport(p);
  } catch {
    return [];
  }
}

