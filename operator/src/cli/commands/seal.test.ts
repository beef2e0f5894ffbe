import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { SealedCredentialSpecSchema } from '../../api/sealed-credential.ts';
import { unseal } from '../../release/sealing/envelope.ts';
import { createKeyring, type SealingKeyring } from '../../release/sealing/keyring.ts';
import type { CliIO } from '../command.ts';
import { runCli } from '../main.ts';

let dir: string;
let keyring: SealingKeyring;
let cert: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cai-seal-'));
  keyring = await createKeyring(new Date());
  cert = join(dir, 'cert.pem');
  writeFileSync(cert, keyring.certificatePem);
});

async function run(args: string[], stdin = '') {
  let out = '';
  let err = '';
  const io: CliIO = { stdout: (t) => (out += t), stderr: (t) => (err += t), readStdin: () => Promise.resolve(Buffer.from(stdin)), env: {} };
  const code = await runCli(['seal', ...args], io);
  return { code, out, err };
}

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace: string }; spec: unknown };
const manifests = (out: string) => parseAllDocuments(out).map((d) => d.toJS() as Manifest);

function open(m: Manifest) {
  const spec = SealedCredentialSpecSchema.parse(m.spec);
  const r = unseal(spec.encryptedData, keyring, { namespace: m.metadata.namespace, name: m.metadata.name, mode: spec.scope.mode, agents: spec.scope.agents, resourcePath: spec.resourcePath });
  return r.ok ? r.plaintext.toString() : r.code;
}

describe('cai seal', () => {
  it('seals a literal into a SealedCredential the operator keyring opens', async () => {
    const r = await run(['--cert', cert, '--from-literal', 'gateway-token-123', '--name', 'gw', '--namespace', 'agents', '--resource-path', 'default/local-resources/gateway_token', '--agent', 'bot', '--agent', 'alpha']);
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('gateway-token-123');
    const [m] = manifests(r.out);
    expect(m).toMatchObject({ apiVersion: 'confidential-agent.io/v1alpha1', kind: 'SealedCredential', metadata: { name: 'gw', namespace: 'agents' }, spec: { resourcePath: 'default/local-resources/gateway_token', scope: { mode: 'Strict', agents: ['alpha', 'bot'] } } });
    expect(open(m!)).toBe('gateway-token-123');
    expect(open({ ...m!, metadata: { name: 'gw', namespace: 'elsewhere' } })).toBe('ScopeMismatch');
  });

  it('seals a file from stdin with namespace-wide scope', async () => {
    const r = await run(['--cert', cert, '--from-file', '-', '--name', 'cfg', '--namespace', 'agents', '--resource-path', 'default/local-resources/openclaw_vllm_config', '--scope', 'namespace-wide'], '{"clientSecret":"x"}');
    const [m] = manifests(r.out);
    expect(open({ ...m!, metadata: { name: 'renamed', namespace: 'agents' } })).toBe('{"clientSecret":"x"}');
  });

  it('turns a Secret manifest into one SealedCredential per key', async () => {
    const secret = join(dir, 'secret.yaml');
    writeFileSync(secret, ['apiVersion: v1', 'kind: Secret', 'metadata:', '  name: sshd', '  namespace: agents', 'data:', `  ssh_host_key: ${Buffer.from('PRIVATE').toString('base64')}`, 'stringData:', '  ssh_host_key.pub: PUBLIC', ''].join('\n'));
    const r = await run(['--cert', cert, '--secret-manifest', secret, '--resource-path', 'default/local-resources']);
    expect(r.code).toBe(0);
    const ms = manifests(r.out);
    expect(ms.map((m) => [m.metadata.name, (m.spec as { resourcePath: string }).resourcePath])).toEqual([
      ['sshd-ssh-host-key', 'default/local-resources/ssh_host_key'],
      ['sshd-ssh-host-key-pub', 'default/local-resources/ssh_host_key.pub'],
    ]);
    expect(ms.map(open)).toEqual(['PRIVATE', 'PUBLIC']);
  });

  it('refuses bad input with a specific message and exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--from-literal', 'x', '--name', 'a', '--namespace', 'b', '--resource-path', 'a/b/c'], /--cert is required/],
      [['--cert', cert, '--name', 'a', '--namespace', 'b', '--resource-path', 'a/b/c'], /exactly one of/],
      [['--cert', cert, '--from-literal', 'x', '--name', 'a', '--namespace', 'b', '--resource-path', 'a/../c'], /REPO\/TYPE\/TAG/],
      [['--cert', cert, '--from-literal', 'x', '--name', 'A_B', '--namespace', 'b', '--resource-path', 'a/b/c'], /not a valid object name/],
      [['--cert', cert, '--from-literal', 'x', '--name', 'a', '--namespace', 'b', '--resource-path', 'a/b/c', '--scope', 'global'], /--scope must be/],
      [['--cert', cert, '--from-literal', 'x', '--name', 'a', '--namespace', 'b', '--resource-path', 'a/b/c', '--bogus', '1'], /unknown option --bogus/],
      [['--cert', join(dir, 'secret.yaml'), '--from-literal', 'x', '--name', 'a', '--namespace', 'b', '--resource-path', 'a/b/c'], /--cert: not a PEM/],
      [['--cert', cert, '--secret-manifest', cert, '--resource-path', 'a/b'], /kind: Secret|exactly one YAML/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect([r.code, r.err]).toEqual([2, expect.stringMatching(message)]);
      expect(r.out).toBe('');
    }
  });
});
