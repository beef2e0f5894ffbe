// Guest image profiles: the data the image builder consumes (guest-image/profiles/<name>.json). A profile
// names every input; the builder records each input's digest in <name>.manifest.json next to the image.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256');
const port = z.number().int().min(1).max(65535);
const moduleName = z.string().regex(/^[a-z0-9_-]{1,64}$/, 'kernel module name');
const resourcePath = z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'KBS resource path repo/type/tag');
const cmdlineWord = z.string().regex(/^[A-Za-z0-9_.,:=/+-]{1,128}$/, 'kernel command-line word without spaces or quotes');

const common = {
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'image name: lowercase letters, digits, dashes'),
  version: z.string().regex(/^[A-Za-z0-9._-]{1,32}$/),
  cmdline: z.array(cmdlineWord).max(32),
  disk: z.object({
    espMiB: z.number().int().min(16).max(1024),
    dataMiB: z.number().int().min(32).max(1024 * 1024),
    diskKeyResource: resourcePath,
  }),
  rekor: z.object({ enabled: z.boolean(), artifact_id: z.string().min(1), artifact_type: z.literal('uki') }),
  $comment: z.string().optional(),
};

/** Built on a Debian host from its installed packages (the tests build and boot this one). */
export const DebianHostProfile = z.object({
  ...common,
  profile: z.literal('dev'),
  builder: z.literal('debian-host'),
  kernel: z.object({ package: z.literal('linux-image-amd64') }),
  initrd: z.object({
    modules: z.array(moduleName).min(1).max(64),
    binaries: z.array(z.string().regex(/^\/usr\/s?bin\/[a-z0-9_.-]+$/)).max(16),
    keyTimeoutSeconds: z.number().int().min(5).max(600),
  }),
  rootfs: z.object({
    format: z.literal('erofs'),
    guestAgent: z.literal('simulated'),
    workloadModel: z.string().min(1).max(64),
    workloadPort: port,
    guestApiPort: port,
    infoPort: port,
  }),
}).strict();

// RPMs are pinned by exact version-release.arch and verified by the repository's GPG key and repodata checksums; their
// version and file SHA-256 are recorded here once a host that reaches the repository has resolved them
// (null until then, and the builder refuses to build while any pin is null — see unpinnedInputs).
const nevra = z.string().regex(/^[A-Za-z0-9._+~:-]+\.(x86_64|noarch)$/, 'exact version-release.arch');
const pinnedRpm = z.object({ name: z.string().regex(/^[A-Za-z0-9._+-]+$/), version: nevra.nullable(), sha256: sha256.nullable() }).strict();
const pinnedArtifact = z.object({ url: z.string().url().startsWith('https://'), version: z.string().min(1).nullable(), sha256: sha256.nullable().optional(), integrity: z.string().regex(/^sha512-[A-Za-z0-9+/]{86}==$/).optional() }).strict()
  .refine((a) => a.sha256 !== undefined || a.integrity !== undefined, 'artifact needs sha256 or an npm sha512 integrity');

/** Production profile for Alibaba Cloud Linux 3 on gn8v-tee, built where its repositories are reachable. */
export const Alinux3Profile = z.object({
  ...common,
  profile: z.literal('openclaw-vllm'),
  builder: z.literal('alinux3-chroot'),
  base: z.object({
    distribution: z.literal('alinux3'),
    image: pinnedArtifact,
    repositories: z.array(z.object({ name: z.string().regex(/^[a-z0-9-]+$/), baseurl: z.string().url().startsWith('https://'), gpgkey: z.string().url().startsWith('https://') }).strict()).min(1),
  }).strict(),
  kernel: pinnedRpm,
  packages: z.array(pinnedRpm).min(1),
  nvidia: z.object({
    driver: pinnedRpm,
    fabricmanager: pinnedRpm.optional(),
    ccMode: z.literal('on'),
    ppcieMode: z.enum(['off', 'on']),
    kernelModuleParams: z.array(cmdlineWord),
  }).strict(),
  artifacts: z.record(z.string().regex(/^[a-z0-9-]+$/), pinnedArtifact),
  containers: z.record(z.string().regex(/^[a-z0-9-]+$/), z.string().regex(/^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$/, 'image reference pinned by digest')),
  services: z.array(z.object({ name: z.string().regex(/^[a-z0-9-]+$/), stage: z.enum(['initrd', 'rootfs']), exec: z.string().min(1) }).strict()).min(1),
  initrd: z.object({ keyTimeoutSeconds: z.number().int().min(5).max(600) }).strict(),
  rootfs: z.object({ format: z.enum(['erofs', 'squashfs']) }).strict(),
  // The guest's TNG egress (/etc/tng/config.json, tng-egress.ts): mapping egressPort → the workload on
  // loopback, attesting through the CoCo attestation-agent socket (background check), as the seed's image.
  tng: z.object({
    egressPort: z.number().int().min(1).max(65535),
    workloadPort: z.number().int().min(1).max(65535),
    attestationAgentSocket: z.string().regex(/^\/[A-Za-z0-9_./-]{1,200}$/),
    mode: z.enum(['rats-tls', 'ohttp']),
  }).strict(),
}).strict();

export const GuestImageProfile = z.discriminatedUnion('builder', [DebianHostProfile, Alinux3Profile]);
export type DebianHostProfile = z.infer<typeof DebianHostProfile>;
export type Alinux3Profile = z.infer<typeof Alinux3Profile>;
export type GuestImageProfile = z.infer<typeof GuestImageProfile>;

/** Inputs of a production profile still missing their digest (the builder refuses to build then). */
export function unpinnedInputs(p: Alinux3Profile): string[] {
  const out: string[] = [];
  if (p.base.image.sha256 === null || p.base.image.version === null) out.push(`base.image ${p.base.image.url}`);
  for (const r of [p.kernel, ...p.packages, p.nvidia.driver, ...(p.nvidia.fabricmanager ? [p.nvidia.fabricmanager] : [])]) if (r.sha256 === null || r.version === null) out.push(`rpm ${r.name}${r.version ? `-${r.version}` : ''}`);
  for (const [k, a] of Object.entries(p.artifacts)) if (a.sha256 === null || a.version === null) out.push(`artifact ${k}`);
  return out;
}

export class ProfileError extends Error {
  readonly code = 'ProfileInvalid';
}

export function parseProfile(text: string, source: string): GuestImageProfile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ProfileError(`${source}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const r = GuestImageProfile.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ProfileError(`${source}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return r.data;
}

export async function loadProfile(path: string): Promise<GuestImageProfile> {
  const text = await readFile(path, 'utf8');
  if (text.length > 256 * 1024) throw new ProfileError(`${path}: larger than 256 KiB`);
  return parseProfile(text, path);
}
