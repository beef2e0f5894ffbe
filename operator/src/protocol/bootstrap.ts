// The bootstrap resource: the first thing the operator injects into a freshly attested guest, telling it
// how its credentials will arrive (pushed by challenge, or pulled from a KBS at kbs_url). Shared by the
// attest phase (which sends it) and the guests (which parse it).

/** repo/type/tag the bootstrap config is injected at (trustiflux resource path). */
export const BOOTSTRAP_RESOURCE = 'default/local-resources/cai_bootstrap_config';

/**
 * `kbs_cert`: PEM the guest must trust the KBS with (HTTPS). `sandbox_policy`: the tool-sandbox (PEP)
 * policy document, byte for byte; the guest's PEP loads it only if its digest is the one named in the
 * init-data the guest launched with (`cai-pep-policy.digest`), which its attested evidence binds.
 */
export type BootstrapConfig = ({ mode: 'challenge' } | { mode: 'kbs'; kbs_url: string; kbs_cert?: string }) & { sandbox_policy?: string };

/** The bytes injected at BOOTSTRAP_RESOURCE. */
export function bootstrapPayload(config: BootstrapConfig): Uint8Array {
  return Buffer.from(JSON.stringify(config));
}
