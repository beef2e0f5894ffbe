// CRD fuzz (issue 15, item 3): thousands of random mutations of valid ConfidentialAgent, AttestationPolicy and
// SealedCredential specs are sent to the real API server with a running operator. The API server refuses
// what its schema and CEL rules refuse; every object it accepts must be reconciled without an unhandled
// error and end with conditions that name the problem (reason + message) or a sane state. Counts:
// CRD_FUZZ_OBJECTS (default 1,500 to keep CI near a minute; the 5,000 with CRD_FUZZ_OBJECTS=5000).
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, VERSION } from '../../src/api/common.ts';
import type { OperatorHandle } from '../../src/app/operator.ts';
import { seal } from '../../src/release/sealing/envelope.ts';
import { SealingKeyStore } from '../../src/release/sealing/store.ts';
import { createNamespace, useControlPlane, waitFor } from '../envtest/index.ts';
import { mutateJson, rng } from '../support/json-mutator.ts';
import { capturingLogger, startTestOperator } from '../support/operator.ts';

const OBJECTS = Number(process.env['CRD_FUZZ_OBJECTS'] ?? 1500);
const OPERATOR_NS = 'cai-crd-fuzz';
const controlPlane = useControlPlane();
const KINDS = { confidentialagents: 'ConfidentialAgent', attestationpolicies: 'AttestationPolicy', sealedcredentials: 'SealedCredential' } as const;
type Plural = keyof typeof KINDS;

interface Obj {
  metadata: { name: string; generation?: number };
  status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string; reason: string; message: string }> };
}

describe('CRD fuzz against the real API server and a running operator', () => {
  let operator: OperatorHandle;
  let ns: string;
  const log = capturingLogger();
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => void unhandled.push(e);

  beforeAll(async () => {
    const kc = controlPlane().kubeConfig();
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: OPERATOR_NS } } });
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    operator = await startTestOperator(kc, ['--operator-namespace', OPERATOR_NS, '--gc-interval', '3600'], log.logger);
    ns = await createNamespace(kc, 'crd-fuzz');
  });
  afterAll(async () => {
    await operator?.stop();
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
  });

  it(`${OBJECTS} mutated objects: each refused by the API server or reconciled to a condition naming the problem`, async () => {
    const kc = controlPlane().kubeConfig();
    const api = kc.makeApiClient(CustomObjectsApi);
    const keyring = await new SealingKeyStore().loadOrCreate(kc.makeApiClient(CoreV1Api), OPERATOR_NS);
    const sealed = (name: string) => seal(keyring.certificatePem, Buffer.from('fuzz-credential'), { namespace: ns, name, mode: 'Strict', agents: ['a'], resourcePath: 'default/fuzz/cred' });
    // Valid seeds per kind; agents name a policy that never exists, so no instance is launched (the agent
    // must still say why it is waiting).
    const seeds: Record<Plural, (name: string) => Record<string, unknown>> = {
      attestationpolicies: () => ({ allowSampleTee: true, minimumStatus: 'warning', tdx: { mrTd: ['a'.repeat(96)] } }),
      sealedcredentials: (name) => ({ encryptedData: sealed(name), resourcePath: 'default/fuzz/cred', scope: { mode: 'Strict', agents: ['a'] } }),
      confidentialagents: () => ({ instance: { local: { bootDelaySeconds: 0 } }, attestationPolicyRef: { name: 'absent-policy' }, delivery: { mode: 'KBS' }, credentials: [{ name: 'c' }], workload: { profile: 'openclaw-vllm' } }),
    };
    const r = rng(15);
    const plurals = Object.keys(KINDS) as Plural[];
    const accepted: Array<{ plural: Plural; name: string }> = [];
    const refused = new Map<string, number>();
    const tally = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < OBJECTS) {
        const i = next++;
        const plural = plurals[i % plurals.length]!;
        const name = `f-${i}`;
        // a structural mutation that is still JSON (the API server's own JSON parsing is not under test)
        let spec: unknown;
        for (let tries = 0; spec === undefined && tries < 20; tries++) {
          try {
            const text = mutateJson(seeds[plural](name), r).body.toString();
            // @kubernetes/client-node's request serializer overflows its stack on "__proto__"/"constructor" keys,
            // and is left broken (test side: the API server prunes unknown fields, so no such key reaches the
            // operator's informers); those two are left to the parser fuzz
            // and on 100,000-deep nesting (JSON.stringify recursion): nesting is capped at 64 here
            spec = /"(__proto__|constructor)"/.test(text) || /[[{]{64}/.test(text) ? undefined : JSON.parse(text);
          } catch {
            spec = undefined;
          }
        }
        try {
          await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural, body: { apiVersion: `${GROUP}/${VERSION}`, kind: KINDS[plural], metadata: { name }, spec } });
          accepted.push({ plural, name });
        } catch (err) {
          const code = (err as { code?: number }).code;
          expect([400, 422], `${plural}/${name}: ${String(err).slice(0, 300)}`).toContain(code);
          tally(refused, `${plural}:${code}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 24 }, worker));
    const createdIn = (performance.now() - t0) / 1000;

    // Every accepted object ends up with conditions for its generation, each with a reason and a message.
    const reasons = new Map<string, number>();
    const settled = await waitFor(
      'every accepted object reconciled',
      async () => {
        const lists = await Promise.all(plurals.map(async (plural) => ({ plural, items: ((await api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural })) as { items: Obj[] }).items })));
        const pending = lists.flatMap(({ plural, items }) =>
          items.filter((o) => !o.status?.conditions?.length || (o.status.observedGeneration !== undefined && o.status.observedGeneration !== o.metadata.generation)).map((o) => `${plural}/${o.metadata.name}`),
        );
        return pending.length === 0 ? lists : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 2000 },
    );
    for (const { plural, items } of settled) {
      for (const o of items) {
        for (const c of o.status!.conditions!) {
          expect(c.reason, `${plural}/${o.metadata.name} ${c.type}`).toMatch(/^[A-Za-z][A-Za-z0-9_,:]*$/);
          expect(c.message.length, `${plural}/${o.metadata.name} ${c.type}`).toBeGreaterThan(0);
          expect(c.message).not.toContain('fuzz-credential');
        }
        const ready = o.status!.conditions!.find((c) => c.type === 'Ready') ?? o.status!.conditions![0]!;
        tally(reasons, `${KINDS[plural]}:${ready.type}=${ready.status}/${ready.reason}`);
      }
    }
    const errors = log.lines.filter((l) => /"level":(50|60)/.test(l));
    const count = (p: Plural) => accepted.filter((a) => a.plural === p).length;
    console.log(
      `CRD fuzz: ${OBJECTS} objects in ${createdIn.toFixed(1)} s (${(OBJECTS / createdIn).toFixed(0)}/s); refused by the API server ${OBJECTS - accepted.length} ${JSON.stringify(Object.fromEntries(refused))}; ` +
        `accepted ${accepted.length} (agents ${count('confidentialagents')}, policies ${count('attestationpolicies')}, credentials ${count('sealedcredentials')}), all reconciled in ${((performance.now() - t0) / 1000).toFixed(1)} s total; ` +
        `operator error log lines ${errors.length}; unhandled ${unhandled.length}\n  outcomes: ${JSON.stringify(Object.fromEntries([...reasons].sort((a, b) => b[1] - a[1])))}`,
    );
    expect(unhandled).toEqual([]);
    expect(errors.map((l) => l.slice(0, 300))).toEqual([]);
    expect(accepted.length).toBeGreaterThan(OBJECTS / 10);
  }, 600_000);
});
