// `cai status`: what the operator verified about an agent, from its status (and its policy's), as one
// screen a person reads, or as JSON for scripts. Pure: objects and the time in, text out. Status holds
// measured values and digests only, so nothing here can print a secret.
import type { AttestationPolicy } from '../api/attestation-policy.ts';
import type { ConfidentialAgent } from '../api/confidential-agent.ts';

type Attestation = NonNullable<NonNullable<ConfidentialAgent['status']>['attestation']>;

export interface StatusReport {
  namespace: string;
  name: string;
  ready: { status: string; reason: string };
  conditions: Array<{ type: string; status: string; reason: string; message: string; since?: string }>;
  instance?: NonNullable<ConfidentialAgent['status']>['instance'];
  policy: { name: string; ready?: string; checkpointTreeSize?: number };
  appraisal?: {
    status: Attestation['status'];
    teeType: string;
    verifiedAt: string;
    instanceId?: string;
    policyGeneration?: number;
    tokenDigest?: string;
  } & Partial<NonNullable<Attestation['appraisal']>>;
  credentials: Array<{ name: string; mode: string; digest: string; deliveredAt: string; resourcePath: string }>;
  nextAttestationAt?: string;
  /** Trust material whose expiry stops this agent's re-attestation, soonest first. */
  expiries: Array<{ what: string; at: string }>;
}

export function statusReport(agent: ConfidentialAgent, policy: AttestationPolicy | undefined): StatusReport {
  const st = agent.status ?? {};
  const conditions = (st.conditions ?? []).map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message, ...(c.lastTransitionTime ? { since: c.lastTransitionTime } : {}) }));
  const ready = conditions.find((c) => c.type === 'Ready');
  const a = st.attestation;
  const expiries: StatusReport['expiries'] = [];
  if (a?.appraisal?.tdx?.collateralExpiresAt) expiries.push({ what: `TDX collateral (FMSPC ${a.appraisal.tdx.fmspc?.toUpperCase() ?? '?'})`, at: a.appraisal.tdx.collateralExpiresAt });
  const rims = new Map<string, string>();
  for (const g of a?.appraisal?.gpus ?? []) if (g.rimExpiresAt) rims.set(`NVIDIA RIMs ${g.driverRimId ?? g.driverVersion} + ${g.vbiosRimId ?? g.vbiosVersion}`, g.rimExpiresAt);
  for (const [what, at] of rims) expiries.push({ what, at });
  expiries.sort((x, y) => Date.parse(x.at) - Date.parse(y.at));
  const policyReady = policy?.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    namespace: agent.metadata.namespace ?? '',
    name: agent.metadata.name,
    ready: { status: ready?.status ?? 'Unknown', reason: ready?.reason ?? 'NotReconciled' },
    conditions,
    ...(st.instance ? { instance: st.instance } : {}),
    policy: {
      name: agent.spec.attestationPolicyRef.name,
      ...(policyReady ? { ready: `${policyReady.status} (${policyReady.reason})` } : policy ? {} : { ready: 'not found' }),
      ...(policy?.status?.checkpoint?.treeSize !== undefined ? { checkpointTreeSize: policy.status.checkpoint.treeSize } : {}),
    },
    ...(a
      ? {
          appraisal: {
            status: a.status,
            teeType: a.teeType,
            verifiedAt: a.verifiedAt,
            ...(a.instanceId ? { instanceId: a.instanceId } : {}),
            ...(a.policyGeneration !== undefined ? { policyGeneration: a.policyGeneration } : {}),
            ...(a.tokenDigest ? { tokenDigest: a.tokenDigest } : {}),
            ...(a.appraisal ?? {}),
          },
        }
      : {}),
    credentials: (st.credentials ?? []).map((c) => ({ name: c.name, mode: c.mode, digest: c.digest, deliveredAt: c.deliveredAt, resourcePath: c.resourcePath })),
    ...(a?.nextAttestationAt ? { nextAttestationAt: a.nextAttestationAt } : {}),
    expiries,
  };
}

/** "in 3d 4h", "12m ago": how far `iso` is from `now`. */
export function relative(iso: string, now: Date): string {
  const ms = Date.parse(iso) - now.getTime();
  if (!Number.isFinite(ms)) return '?';
  let s = Math.round(Math.abs(ms) / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    if (s >= size && parts.length < 2) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  const span = parts.join(' ') || '0s';
  return ms >= 0 ? `in ${span}` : `${span} ago`;
}

const VECTOR_ORDER = ['instance-identity', 'configuration', 'executables', 'file-system', 'hardware', 'runtime-opaque', 'storage-opaque', 'sourced-data'];

export function formatStatus(r: StatusReport, now: Date): string {
  const out: string[] = [];
  const line = (s = '') => out.push(s);
  const table = (rows: string[][], indent = '  ') => {
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => row[i]?.length ?? 0))) ?? [];
    for (const row of rows) out.push(indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
  };
  line(`ConfidentialAgent ${r.namespace}/${r.name}: Ready=${r.ready.status} (${r.ready.reason})`);
  line();
  line('Conditions:');
  table(r.conditions.map((c) => [c.type, c.status, c.reason, c.since ? relative(c.since, now) : '', c.message]));
  line();
  if (r.instance) {
    const i = r.instance;
    line(`Instance:     ${i.provider} ${i.id} ${i.state}${i.zone ? ` zone ${i.zone}` : ''}${i.address ? ` at ${i.address}` : ''}${i.createdAt ? `, created ${relative(i.createdAt, now)}` : ''}`);
  } else line('Instance:     none yet');
  line(`Policy:       ${r.policy.name}${r.policy.ready ? ` Ready=${r.policy.ready}` : ''}${r.policy.checkpointTreeSize !== undefined ? `, log checkpoint tree size ${r.policy.checkpointTreeSize}` : ''}`);
  line();
  const a = r.appraisal;
  if (!a) line('Last appraisal: none (the agent has not been attested)');
  else {
    line(`Last appraisal: ${a.status.toUpperCase()} (${a.teeType}) at ${a.verifiedAt} (${relative(a.verifiedAt, now)})${a.policyGeneration !== undefined ? `, policy generation ${a.policyGeneration}` : ''}`);
    if (a.tokenDigest) line(`  EAR token sha256 ${a.tokenDigest}`);
    if (a.submods?.length) {
      line('  Trust vectors (AR4SI):');
      table(
        a.submods.map((m) => [m.name, m.tee, m.status, VECTOR_ORDER.filter((k) => m.trustVector[k] !== undefined && m.trustVector[k] !== 0).map((k) => `${k}=${m.trustVector[k]}`).join(' ') || '(no claims)']),
        '    ',
      );
    }
    if (a.tdx) {
      const t = a.tdx;
      line(`  TDX:  TCB ${t.tcbStatus}${t.advisoryIds?.length ? `, advisories ${t.advisoryIds.join(', ')}` : ', no advisories'}${t.fmspc ? `, FMSPC ${t.fmspc.toUpperCase()}` : ''}`);
      line(`    MRTD   ${t.mrTd}`);
      t.rtmrs.forEach((v, i) => line(`    RTMR${i}  ${v}`));
      if (t.ukiDigest) {
        const rv = t.referenceValue;
        line(`    UKI    ${t.ukiDigest}`);
        line(rv ? `           matched reference value${rv.version ? ` ${rv.version}` : ''}${rv.logIndex !== undefined ? ` (Rekor log index ${rv.logIndex})` : ''}` : '           no published reference value matched');
      }
    }
    if (a.gpus?.length) {
      const groups = new Map<string, number>();
      for (const g of a.gpus) {
        const key = `${g.arch} driver ${g.driverVersion} VBIOS ${g.vbiosVersion}; RIMs ${g.driverRimId ?? '?'}, ${g.vbiosRimId ?? '?'}`;
        groups.set(key, (groups.get(key) ?? 0) + 1);
      }
      line(`  GPUs: ${a.gpus.length}`);
      for (const [key, n] of groups) line(`    ${n} x ${key}`);
    }
  }
  line();
  if (r.credentials.length) {
    line('Credentials delivered:');
    table(r.credentials.map((c) => [c.name, c.mode, `sha256 ${c.digest.slice(0, 16)}…`, c.deliveredAt, `(${relative(c.deliveredAt, now)})`]));
  } else line('Credentials delivered: none');
  line(`Next re-attestation: ${r.nextAttestationAt ? `${r.nextAttestationAt} (${relative(r.nextAttestationAt, now)})` : 'not scheduled'}`);
  if (r.expiries.length) {
    line('Trust material that will affect it:');
    table(r.expiries.map((e) => [e.what, 'expires', e.at, `(${relative(e.at, now)})`]));
  }
  return out.join('\n') + '\n';
}
