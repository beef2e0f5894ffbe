// TNG (inclavare-containers/TNG 2.12) launch configs the operator renders: the gateway's client ingress
// (`add_ingress` mapping → the instance's TNG egress, verified against the operator attestation service),
// `cai connect`'s loopback ingress, and a guest's egress (`add_egress` in front of the workload, attesting
// through an ASR endpoint or the CoCo attestation-agent socket). Pure: data in, JSON text out.
//
// TNG 2.12 silently ignores unknown fields (a misspelt `verify` would give an unverified tunnel), so every
// config is validated here against the exact subset of TNG's schema the operator emits, strictly: an
// unknown or missing field is an error naming the field, never a config.
import { z } from 'zod';

/**
 * Policy ids of the operator attestation service (attestation/service/policy-id.ts):
 * `<namespace>/<AttestationPolicy>` or agent-scoped `<namespace>/<AttestationPolicy>/<ConfidentialAgent>`.
 */
export const POLICY_ID = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?(\/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)?$/;
const ABS_PATH = /^\/[A-Za-z0-9_./-]{1,255}$/;
const HOST = /^(?:(?:\d{1,3}\.){3}\d{1,3}|[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)$/;

const Port = z.int().min(1).max(65535);
const Endpoint = z.object({ host: z.string().regex(HOST, 'an IPv4 address or DNS name'), port: Port }).strict();
const Mapping = z.object({ rules: z.array(z.object({ in: Endpoint, out: Endpoint }).strict()).length(1) }).strict();
const HttpUrl = z.url({ protocol: /^https?$/ }).max(2048);
const Verify = z
  .object({
    as_addr: HttpUrl,
    policy_ids: z.array(z.string().regex(POLICY_ID, '<namespace>/<policy>[/<agent>]')).length(1),
    trusted_certs_paths: z.array(z.string().regex(ABS_PATH, 'an absolute path')).length(1).optional(),
  })
  .strict();
const Transport = { ohttp: z.object({}).strict().optional(), rats_tls: z.object({ multiplex: z.literal(false) }).strict().optional() };
const Ingress = z.object({ mapping: Mapping, verify: Verify, ...Transport }).strict();
const AttestAsr = z.object({ aa_provider: z.literal('coco_asr'), asr_addr: HttpUrl, model: z.literal('background_check') }).strict();
const AttestAa = z.object({ aa_addr: z.string().regex(/^unix:\/\/\/[A-Za-z0-9_./-]{1,200}$/, 'unix:///<socket path>'), model: z.literal('background_check') }).strict();
const Egress = z.object({ mapping: Mapping, attest: z.union([AttestAsr, AttestAa]), ...Transport }).strict();
const Control = z.object({ restful: Endpoint }).strict();
export const TngConfigSchema = z
  .object({ control_interface: Control.optional(), add_ingress: z.array(Ingress).max(1).optional(), add_egress: z.array(Egress).max(1).optional() })
  .strict()
  .refine((c) => (c.add_ingress?.length ?? 0) + (c.add_egress?.length ?? 0) === 1, 'exactly one add_ingress or add_egress entry');
export type TngConfig = z.infer<typeof TngConfigSchema>;

export type TngMode = 'rats-tls' | 'ohttp';

export class TngConfigError extends Error {
  readonly code = 'InvalidTngConfig';
  constructor(message: string) {
    super(message);
    this.name = 'TngConfigError';
  }
}

/** TNG's control interface port inside the gateway Pod (`/livez`, `/readyz`). */
export const TNG_CONTROL_PORT = 50000;

export interface IngressOptions {
  /** Where the plaintext listener binds: `0.0.0.0` in the gateway Pod, `127.0.0.1` for `cai connect`. */
  listen: { host: string; port: number };
  /** The instance's TNG egress. */
  upstream: { host: string; port: number };
  /** Operator attestation service base URL (Trustee restful AS API). */
  asUrl: string;
  policyId: string;
  /** PEM bundle of the AS CA (pinned: TNG merges these anchors with what `/certificate` serves). */
  asCaPath?: string;
  mode: TngMode;
  /** Serve TNG's control interface on this address (the gateway's probes); omitted for `cai connect`. */
  control?: { host: string; port: number };
}

/** The TNG client config: listen → RATS-TLS/OHTTP → the instance, verified per connection by the AS. */
export function renderIngress(o: IngressOptions): string {
  const config: TngConfig = {
    ...(o.control ? { control_interface: { restful: { host: o.control.host, port: o.control.port } } } : {}),
    add_ingress: [
      {
        mapping: { rules: [{ in: { host: o.listen.host, port: o.listen.port }, out: { host: o.upstream.host, port: o.upstream.port } }] },
        ...transport(o.mode),
        verify: { as_addr: o.asUrl, policy_ids: [o.policyId], ...(o.asCaPath ? { trusted_certs_paths: [o.asCaPath] } : {}) },
      },
    ],
  };
  return serialize(config);
}

export interface EgressOptions {
  listen: { host: string; port: number };
  /** The workload behind the tunnel (loopback in the guest). */
  workload: { host: string; port: number };
  mode: TngMode;
  /** `{ asr }`: TNG's coco_asr attester (the guest's ASR endpoint); `{ aaSocket }`: the CoCo attestation-agent. */
  attester: { asr: string } | { aaSocket: string };
  control?: { host: string; port: number };
}

/** The guest-side TNG server config: attests (background check) and forwards to the workload. */
export function renderEgress(o: EgressOptions): string {
  const attest = 'asr' in o.attester
    ? { aa_provider: 'coco_asr' as const, asr_addr: o.attester.asr, model: 'background_check' as const }
    : { aa_addr: `unix://${o.attester.aaSocket}`, model: 'background_check' as const };
  const config: TngConfig = {
    ...(o.control ? { control_interface: { restful: { host: o.control.host, port: o.control.port } } } : {}),
    add_egress: [{ mapping: { rules: [{ in: { host: o.listen.host, port: o.listen.port }, out: { host: o.workload.host, port: o.workload.port } }] }, ...transport(o.mode), attest }],
  };
  return serialize(config);
}

/** Parses and validates a TNG config text (the bytes TNG will read); throws TngConfigError naming the field. */
export function parseTngConfig(text: string): TngConfig {
  if (text.length > 65_536) throw new TngConfigError(`TNG config: ${text.length} bytes exceeds the 65536-byte limit`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new TngConfigError(`TNG config: not JSON (${(err as Error).message})`);
  }
  const r = TngConfigSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new TngConfigError(`TNG config: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  const c = r.data;
  for (const e of [...(c.add_ingress ?? []), ...(c.add_egress ?? [])]) {
    if (e.ohttp && e.rats_tls) throw new TngConfigError('TNG config: ohttp and rats_tls are mutually exclusive');
  }
  return c;
}

function transport(mode: TngMode): { ohttp?: Record<string, never>; rats_tls?: { multiplex: false } } {
  return mode === 'ohttp' ? { ohttp: {} } : { rats_tls: { multiplex: false } };
}

function serialize(config: TngConfig): string {
  const text = JSON.stringify(config, null, 2) + '\n';
  parseTngConfig(text); // the renderer's own output must pass the same validation as anything read back
  return text;
}
