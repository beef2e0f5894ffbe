// The PEP's sandbox policy: a versioned, schema-validated document (policies/pep/*.json). The zod schema
// here is the source of truth; policies/pep/policy.schema.json is generated from it (policy-schema.test.ts
// keeps them equal). The seed's cai-pep file format is still accepted and mapped (seedToPolicy).
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const POLICY_API_VERSION = 'pep.confidential-agent.io/v1';

const name = z.string().min(1).max(128);
const absPath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => p.startsWith('/') && !p.split('/').includes('..') && !p.includes('\0'), 'an absolute path without ".."');
const programName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._+:-]+$|^\[$/, 'a bare program name (basename, no "/")');

const InterpreterSchema = z
  .object({
    program: z.string().min(1).max(128).describe('Program name, or a regular expression when it starts with "^" (e.g. ^python[0-9.]*$).'),
    inlineFlags: z.array(z.string().min(1).max(32)).max(16).describe('Flags that take inline code (e.g. -c, -e, --eval).'),
    stdinCode: z.boolean().default(true).describe('Without a script argument the interpreter reads code from stdin (also a here-doc).'),
    awkProgram: z.boolean().default(false).describe('The first non-option argument is the program text (awk family).'),
  })
  .strict();

export const PepPolicySchema = z
  .object({
    apiVersion: z.literal(POLICY_API_VERSION),
    kind: z.literal('SandboxPolicy'),
    metadata: z.object({ name, description: z.string().max(1024).optional() }).strict(),
    workspace: z
      .object({
        hostPath: absPath.describe('Directory on the guest bound read-write into the sandbox.'),
        mountTarget: absPath.describe('Where the workspace appears inside the sandbox.'),
        allowedWorkdirPrefixes: z.array(absPath).min(1).max(32).describe('A request workdir must resolve under one of these.'),
      })
      .strict(),
    programs: z
      .object({
        default: z.enum(['allow', 'deny']).describe('Decision for a program on neither list.'),
        allow: z.array(programName).max(1024),
        deny: z.array(programName).max(1024).describe('Checked before allow.'),
        nonPathArguments: z.array(programName).max(256).describe('Programs whose arguments are not file paths (echo, printf …).'),
        workspaceExecutables: z.enum(['allow', 'deny']).describe('Running a program by path from the workspace (./build.sh).'),
      })
      .strict(),
    interpreters: z.array(InterpreterSchema).max(64),
    paths: z
      .object({
        allowedRoots: z.array(absPath).min(1).max(64).describe('Path arguments and redirect targets must resolve under one of these.'),
        deniedPrefixes: z.array(absPath).max(256).describe('Denied even under an allowed root (compared as paths, not substrings).'),
        devices: z.array(absPath).max(64).describe('Exact device paths allowed (e.g. /dev/null).'),
      })
      .strict(),
    network: z
      .object({
        mode: z.enum(['none', 'bridge', 'host']).describe('Sandbox network. bubblewrap supports only none (--unshare-net).'),
        tools: z.array(programName).max(256).describe('Network clients denied with rule network.tool, whatever programs says.'),
      })
      .strict(),
    shell: z
      .object({
        maxCommandBytes: z.int().min(1).max(1_048_576),
        maxDepth: z.int().min(1).max(32).describe('Nesting of sh -c / eval / substitutions.'),
        dynamicArguments: z.enum(['deny', 'allow']).describe('Arguments whose value the analyser cannot know ($(…), unknown $VAR).'),
        legacyDenySubstrings: z.array(z.string().min(1).max(256)).max(256).default([]).describe('Seed denied_command_patterns that are not a program name; substring match (rule command.deny_pattern).'),
      })
      .strict(),
    limits: z
      .object({
        timeoutSeconds: z.int().min(1).max(3600),
        stdoutMaxBytes: z.int().min(1024).max(64 * 1024 * 1024),
        stderrMaxBytes: z.int().min(1024).max(64 * 1024 * 1024),
        memoryMb: z.int().min(16).max(1_048_576),
        cpus: z.number().min(0.01).max(1024),
        cpuSeconds: z.int().min(1).max(86_400),
        pids: z.int().min(8).max(65_536),
        fileSizeMb: z.int().min(1).max(1_048_576),
      })
      .strict(),
    sandbox: z
      .object({
        backend: z.enum(['bubblewrap', 'docker']),
        readOnlyBinds: z.array(absPath).max(64).describe('bubblewrap: host paths bound read-only at the same place (missing ones skipped).'),
        docker: z.object({ image: z.string().min(1).max(512) }).strict().optional(),
      })
      .strict(),
    service: z.object({ socketPath: absPath }).strict(),
  })
  .strict();

export type PepPolicy = z.infer<typeof PepPolicySchema>;
export type PepPolicyInput = z.input<typeof PepPolicySchema>;

/** The seed's cai-pep policy (image/customize/files/cai-pep-default-policy.json); every field defaulted. */
export const SeedPolicySchema = z
  .object({
    socket_path: z.string().min(1).max(4096).default('/run/cai/pep.sock'),
    docker_image: z.string().min(1).max(512).default('alibaba-cloud-linux-3-registry.cn-hangzhou.cr.aliyuncs.com/alinux3/alinux3:latest'),
    workspace_host_path: z.string().min(1).max(4096).default('/workspace'),
    workspace_mount_target: z.string().min(1).max(4096).default('/workspace'),
    allowed_workspace_prefixes: z.array(z.string().min(1).max(4096)).max(32).default(['/workspace']),
    denied_path_prefixes: z
      .array(z.string().min(1).max(4096))
      .max(256)
      .default(['/etc', '/proc', '/sys', '/dev', '/root', '/run', '/var/run', '/home/openclaw/.openclaw']),
    denied_command_patterns: z
      .array(z.string().min(1).max(256))
      .max(256)
      .default(['curl ', 'wget ', 'nc ', 'ncat ', 'ssh ', 'scp ', 'sftp ', 'telnet ', 'docker ', 'podman ']),
    timeout_secs: z.int().min(1).max(3600).default(30),
    stdout_max_bytes: z.int().min(1024).max(64 * 1024 * 1024).default(65536),
    stderr_max_bytes: z.int().min(1024).max(64 * 1024 * 1024).default(32768),
    memory_mb: z.int().min(16).max(1_048_576).default(512),
    cpus: z.number().min(0.01).max(1024).default(1),
    pids_limit: z.int().min(8).max(65_536).default(128),
    docker_network_mode: z.enum(['none', 'bridge', 'host']).default('none'),
  })
  .strict();
export type SeedPolicy = z.infer<typeof SeedPolicySchema>;

export class PolicyError extends Error {
  readonly code = 'PEP_POLICY_INVALID';
}

/** Programs every policy knows how to look through (the analyser unwraps them). */
export const DEFAULT_INTERPRETERS: PepPolicy['interpreters'] = [
  { program: '^python[0-9.]*$', inlineFlags: ['-c'], stdinCode: true, awkProgram: false },
  { program: '^(perl|ruby)$', inlineFlags: ['-e', '-E'], stdinCode: true, awkProgram: false },
  { program: '^(node|nodejs|deno|bun)$', inlineFlags: ['-e', '--eval', '-p', '--print'], stdinCode: true, awkProgram: false },
  { program: 'php', inlineFlags: ['-r'], stdinCode: true, awkProgram: false },
  { program: '^lua[0-9.]*$', inlineFlags: ['-e'], stdinCode: true, awkProgram: false },
  { program: 'Rscript', inlineFlags: ['-e'], stdinCode: true, awkProgram: false },
  { program: '^(awk|gawk|mawk|nawk)$', inlineFlags: [], stdinCode: false, awkProgram: true },
];

const SANDBOX_RO = ['/usr', '/bin', '/sbin', '/lib', '/lib64', '/lib32', '/etc/alternatives', '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/localtime', '/etc/ssl/certs'];

/**
 * The seed's file → this model. Documented in policies/pep/README.md:
 * denied_command_patterns that are one word (with or without the trailing space) become denied
 * programs; any other pattern keeps its substring meaning (rule command.deny_pattern). Programs
 * default to allow (the seed allowed everything not matched); denied_path_prefixes become denied path
 * prefixes compared as paths; the seed's Docker backend and limits carry over unchanged.
 */
export function seedToPolicy(seed: SeedPolicy): PepPolicy {
  const programs: string[] = [];
  const substrings: string[] = [];
  for (const p of seed.denied_command_patterns) {
    const word = p.trim().toLowerCase();
    if (/^[a-z0-9._+-]+$/.test(word)) programs.push(word);
    else substrings.push(p);
  }
  const roots = [...new Set([...seed.allowed_workspace_prefixes, seed.workspace_host_path, '/tmp', ...SANDBOX_RO])];
  return PepPolicySchema.parse({
    apiVersion: POLICY_API_VERSION,
    kind: 'SandboxPolicy',
    metadata: { name: 'seed-mapped', description: 'mapped from the seed cai-pep policy format' },
    workspace: {
      hostPath: seed.workspace_host_path,
      mountTarget: seed.workspace_mount_target,
      allowedWorkdirPrefixes: seed.allowed_workspace_prefixes,
    },
    programs: { default: 'allow', allow: [], deny: programs, nonPathArguments: ['echo', 'printf'], workspaceExecutables: 'allow' },
    interpreters: DEFAULT_INTERPRETERS,
    paths: { allowedRoots: roots, deniedPrefixes: seed.denied_path_prefixes, devices: ['/dev/null', '/dev/zero', '/dev/stdin', '/dev/stdout', '/dev/stderr', '/dev/urandom', '/dev/random', '/dev/tty'] },
    network: { mode: seed.docker_network_mode, tools: [] },
    shell: { maxCommandBytes: 65536, maxDepth: 8, dynamicArguments: 'allow', legacyDenySubstrings: substrings },
    limits: {
      timeoutSeconds: seed.timeout_secs,
      stdoutMaxBytes: seed.stdout_max_bytes,
      stderrMaxBytes: seed.stderr_max_bytes,
      memoryMb: seed.memory_mb,
      cpus: seed.cpus,
      cpuSeconds: seed.timeout_secs * 2,
      pids: seed.pids_limit,
      fileSizeMb: 1024,
    },
    sandbox: { backend: 'docker', readOnlyBinds: SANDBOX_RO, docker: { image: seed.docker_image } },
    service: { socketPath: seed.socket_path },
  });
}

function describeIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/** Parses a policy document (this format, or the seed's when it has no apiVersion). */
export function parsePolicy(text: string): { policy: PepPolicy; format: 'v1' | 'seed' } {
  if (text.length > 1_048_576) throw new PolicyError('policy document is larger than 1 MiB');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new PolicyError(`policy is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new PolicyError('policy must be a JSON object');
  if ('apiVersion' in doc) {
    const r = PepPolicySchema.safeParse(doc);
    if (!r.success) throw new PolicyError(`invalid ${POLICY_API_VERSION} policy: ${describeIssues(r.error)}`);
    checkConsistency(r.data);
    return { policy: r.data, format: 'v1' };
  }
  const seed = SeedPolicySchema.safeParse(doc);
  if (!seed.success) throw new PolicyError(`invalid seed cai-pep policy (no apiVersion): ${describeIssues(seed.error)}`);
  const policy = seedToPolicy(seed.data);
  checkConsistency(policy);
  return { policy, format: 'seed' };
}

function checkConsistency(p: PepPolicy): void {
  if (p.sandbox.backend === 'bubblewrap' && p.network.mode !== 'none') {
    throw new PolicyError(`network.mode ${p.network.mode}: the bubblewrap backend always unshares the network; use mode none`);
  }
  if (p.sandbox.backend === 'docker' && !p.sandbox.docker) throw new PolicyError('sandbox.docker.image is required for the docker backend');
  for (const i of p.interpreters) {
    if (i.program.startsWith('^')) {
      try {
        new RegExp(i.program);
      } catch {
        throw new PolicyError(`interpreters: ${i.program} is not a valid regular expression`);
      }
    }
  }
}

/** sha256 over the exact bytes of the policy document: what the agent's evidence binds. */
export function policyDigest(bytes: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** JSON Schema (draft 2020-12) of the v1 format; written to policies/pep/policy.schema.json. */
export function policyJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://confidential-agent.io/schemas/pep-policy-v1.json',
    ...(z.toJSONSchema(PepPolicySchema, { io: 'input', unrepresentable: 'throw' }) as Record<string, unknown>),
  };
}
