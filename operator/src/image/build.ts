// Guest image builder for Debian-host profiles (`dev`): kernel from linux-image-amd64, a fail-closed
// busybox initrd, an erofs root filesystem with a dm-verity hash tree (veritysetup on plain files, no
// loop devices), a UKI from the systemd EFI stub whose embedded command line carries the verity root
// hash, a FAT ESP built with mtools, and a GPT disk (ESP, root, verity, empty LUKS2 data) as qcow2.
// Every input is hashed into a cache key; SOURCE_DATE_EPOCH fixes every timestamp, so the same inputs
// give a byte-identical UKI (and disk). No key is generated into or stored in the image.
import { execFile as execFileCb } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, cp, mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir, homedir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { authenticodeDigest } from '../attestation/pe/authenticode.ts';
import { writeCpio, type CpioEntry } from './cpio.ts';
import { derivedGuid, GPT_TYPE, gptLayout } from './gpt.ts';
import type { DebianHostProfile } from './profile.ts';
import { assembleUki } from './uki.ts';

const execFile = promisify(execFileCb);

export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
export const GUEST_AGENT_ENTRY = 'operator/src/image/guest-agent.ts';
const SYSTEMD_STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
const BUSYBOX = '/bin/busybox';
const INITRD_APPLETS = ['sh', 'mount', 'umount', 'mkdir', 'cat', 'sleep', 'poweroff', 'switch_root', 'insmod', 'ip', 'grep', 'sed', 'chroot', 'mkfifo', 'head', 'tr', 'printf', 'echo', 'kill', 'sync', 'mke2fs'];
const ROOTFS_APPLETS = ['sh', 'cat', 'sleep', 'kill', 'poweroff', 'echo'];

export type ImageBuildErrorCode = 'MissingTool' | 'MissingInput' | 'ToolFailed' | 'Unsupported';

export class ImageBuildError extends Error {
  readonly code: ImageBuildErrorCode;
  constructor(code: ImageBuildErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface BuildOptions {
  profile: DebianHostProfile;
  outDir: string;
  sourceDateEpoch: number;
  /** Extra kernel command-line words (tests build a tampered variant with this). */
  cmdlineAppend?: string[];
  /** Extra files in the initrd, path -> bytes (tests build a tampered variant with this). */
  initrdExtra?: Record<string, Buffer>;
  cacheDir?: string;
  /** Node binary copied into the rootfs (default: the running one, which must be Node 24). */
  nodeBinary?: string;
  log?: (line: string) => void;
}

export interface BuildResult {
  name: string;
  cacheKey: string;
  cached: boolean;
  /** Absolute paths of the outputs in outDir. */
  files: { uki: string; qcow2: string; manifest: string; referenceValues: string };
  ukiSha384: string;
  verityRootHash: string;
  cmdline: string;
  pcr4UkiEvent: { sha256: string; sha384: string };
}

interface Input {
  /** Where it goes, relative to the archive or filesystem root. */
  dest: string;
  source: string;
  mode?: number;
}

async function tool(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  try {
    const r = await execFile('nice', ['-n', '10', cmd, ...args], { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C', ...env } });
    return r.stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new ImageBuildError('MissingTool', `${cmd} is not installed (run hack/guest-image-deps.sh)`);
    throw new ImageBuildError('ToolFailed', `${cmd} ${args.join(' ')} failed: ${(e.stderr ?? e.message).slice(0, 2000)}`);
  }
}

async function mustExist(path: string, why: string): Promise<void> {
  await stat(path).catch(() => {
    throw new ImageBuildError('MissingInput', `${path} (${why}) does not exist; run hack/guest-image-deps.sh`);
  });
}

/** linux-image-amd64 -> linux-image-<release> -> /boot/vmlinuz-<release>, /lib/modules/<release>. */
async function kernelRelease(): Promise<{ release: string; version: string }> {
  const deps = await tool('dpkg-query', ['-W', '-f=${Depends}', 'linux-image-amd64']);
  const m = /linux-image-(\d[^ ]*-amd64) \(= ([^)]+)\)/.exec(deps);
  if (!m) throw new ImageBuildError('MissingInput', `linux-image-amd64 depends on no kernel release: "${deps.slice(0, 200)}"`);
  return { release: m[1]!, version: m[2]! };
}

/** Shared libraries of an ELF binary, as ldd resolves them on this host. */
async function sharedLibraries(binary: string): Promise<string[]> {
  const out = await tool('ldd', [binary]).catch(() => '');
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)\s+\(/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.add(m[1]!);
  }
  return [...libs].sort();
}

function libInputs(libs: string[]): Input[] {
  return libs.map((l) => ({ dest: l.includes('ld-linux') ? 'lib64/ld-linux-x86-64.so.2' : `lib/x86_64-linux-gnu/${basename(l)}`, source: l, mode: 0o755 }));
}

/** Kernel modules with their dependencies, in load order (dependencies first). */
async function moduleClosure(release: string, names: string[]): Promise<string[]> {
  const base = `/lib/modules/${release}`;
  const dep = await readFile(join(base, 'modules.dep'), 'utf8');
  const deps = new Map<string, string[]>();
  const byName = new Map<string, string>();
  for (const line of dep.split('\n')) {
    const [mod, rest] = line.split(':');
    if (!mod || rest === undefined) continue;
    deps.set(mod, rest.trim() ? rest.trim().split(/\s+/) : []);
    byName.set(basename(mod, '.ko').replace(/-/g, '_'), mod);
  }
  const order: string[] = [];
  const visit = (mod: string, depth: number) => {
    if (order.includes(mod)) return;
    if (depth > 32) throw new ImageBuildError('MissingInput', `module dependency loop at ${mod}`);
    // modules.dep lists the full closure; load it deepest-first.
    for (const d of [...(deps.get(mod) ?? [])].reverse()) visit(d, depth + 1);
    order.push(mod);
  };
  for (const n of names) {
    const mod = byName.get(n.replace(/-/g, '_'));
    if (!mod) throw new ImageBuildError('MissingInput', `kernel module ${n} is not in ${base}/modules.dep (built in, or not shipped by this kernel)`);
    visit(mod, 0);
  }
  return order;
}

/** Files of the guest agent's import closure (relative .ts imports) and the npm packages it needs. */
export async function guestAgentClosure(entry = GUEST_AGENT_ENTRY): Promise<{ files: string[]; packages: string[] }> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = [resolve(REPO_ROOT, entry)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const src = await readFile(file, 'utf8');
    for (const m of src.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec));
      else if (!spec.startsWith('node:')) packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  }
  return { files: [...seen].map((f) => relative(REPO_ROOT, f)).sort(), packages: [...packages].sort() };
}

async function walk(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(join(dir, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const r = join(rel, e.name);
    if (e.isDirectory()) out.push(...(await walk(dir, r)));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

async function fileSha256(path: string): Promise<string> {
  return sha256(await readFile(path));
}

interface Plan {
  release: string;
  kernelVersion: string;
  vmlinuz: string;
  initrdInputs: Input[];
  initrdModules: string[];
  rootfsInputs: Input[];
  agentConfig: Record<string, unknown>;
  stub: string;
}

async function plan(opts: BuildOptions): Promise<Plan> {
  const p = opts.profile;
  const { release, version } = await kernelRelease();
  const vmlinuz = `/boot/vmlinuz-${release}`;
  await mustExist(vmlinuz, 'kernel');
  await mustExist(SYSTEMD_STUB, 'systemd-boot-efi stub');
  await mustExist(BUSYBOX, 'busybox-static');
  const modules = await moduleClosure(release, p.initrd.modules);
  const initrdInputs: Input[] = [
    { dest: 'init', source: join(REPO_ROOT, 'guest-image/initrd/init'), mode: 0o755 },
    { dest: 'bin/busybox', source: BUSYBOX, mode: 0o755 },
    ...modules.map((m) => ({ dest: `lib/modules/${basename(m)}`, source: `/lib/modules/${release}/${m}` })),
  ];
  const libs = new Set<string>();
  for (const b of p.initrd.binaries) {
    await mustExist(b, 'initrd binary');
    initrdInputs.push({ dest: `bin/${basename(b)}`, source: b, mode: 0o755 });
    for (const l of await sharedLibraries(b)) libs.add(l);
  }
  initrdInputs.push(...libInputs([...libs].sort()));

  const node = opts.nodeBinary ?? process.execPath;
  const nodeVersion = (await tool(node, ['--version'])).trim();
  if (!nodeVersion.startsWith('v24.')) throw new ImageBuildError('MissingInput', `${node} is ${nodeVersion}; the guest agent needs Node 24`);
  const closure = await guestAgentClosure();
  const rootfsInputs: Input[] = [
    { dest: 'bin/busybox', source: BUSYBOX, mode: 0o755 },
    { dest: 'sbin/cai-init', source: join(REPO_ROOT, 'guest-image/rootfs/cai-init'), mode: 0o755 },
    { dest: 'usr/bin/node', source: node, mode: 0o755 },
    ...libInputs(await sharedLibraries(node)),
    ...closure.files.map((f) => ({ dest: `opt/cai/${f}`, source: join(REPO_ROOT, f) })),
  ];
  for (const pkg of closure.packages) {
    const dir = join(REPO_ROOT, 'node_modules', pkg);
    for (const f of await walk(dir)) rootfsInputs.push({ dest: `opt/cai/node_modules/${pkg}/${f}`, source: join(dir, f) });
  }
  const agentConfig = {
    diskKeyResource: p.disk.diskKeyResource,
    guestApiPort: p.rootfs.guestApiPort,
    infoPort: p.rootfs.infoPort,
    workloadPort: p.rootfs.workloadPort,
    workloadModel: p.rootfs.workloadModel,
    keyFifo: '/run/cai/disk-key',
    dataReady: '/run/cai/data-ready',
    agentReady: '/run/cai/agent-ready',
    eventLog: '/sys/kernel/security/tpm0/binary_bios_measurements',
  };
  return { release, kernelVersion: version, vmlinuz, initrdInputs, initrdModules: modules.map((m) => basename(m)), rootfsInputs, agentConfig, stub: SYSTEMD_STUB };
}

function parentDirs(paths: string[]): string[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs].sort();
}

async function buildInitrd(pl: Plan, opts: BuildOptions): Promise<Buffer> {
  const files: { path: string; data: Buffer; mode: number }[] = [];
  for (const i of pl.initrdInputs) files.push({ path: i.dest, data: await readFile(i.source), mode: i.mode ?? 0o644 });
  files.push({ path: 'etc/cai/modules', data: Buffer.from(pl.initrdModules.map((m) => `${m}\n`).join('')), mode: 0o644 });
  for (const [path, data] of Object.entries(opts.initrdExtra ?? {})) files.push({ path, data, mode: 0o644 });
  const links = INITRD_APPLETS.map((a) => `bin/${a}`);
  const all = [...files.map((f) => f.path), ...links, 'dev/console', 'proc/x', 'sys/x', 'run/x', 'sysroot/x'];
  const entries: CpioEntry[] = [
    ...parentDirs(all).map((path): CpioEntry => ({ kind: 'dir', path })),
    { kind: 'char', path: 'dev/console', major: 5, minor: 1 },
    ...links.map((path): CpioEntry => ({ kind: 'symlink', path, target: 'busybox' })),
    ...files.sort((a, b) => (a.path < b.path ? -1 : 1)).map((f): CpioEntry => ({ kind: 'file', ...f })),
  ];
  return writeCpio(entries, opts.sourceDateEpoch);
}

async function stageRootfs(pl: Plan, dir: string): Promise<void> {
  for (const d of ['dev', 'proc', 'sys', 'run', 'tmp', 'data', 'etc/cai']) await mkdir(join(dir, d), { recursive: true, mode: 0o755 });
  for (const i of pl.rootfsInputs) {
    const dest = join(dir, i.dest);
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(i.source, dest);
    await chmod(dest, i.mode ?? 0o644);
  }
  for (const a of ROOTFS_APPLETS) await symlink('busybox', join(dir, 'bin', a));
  await writeFile(join(dir, 'etc/cai/agent.json'), `${JSON.stringify(pl.agentConfig, null, 2)}\n`, { mode: 0o644 });
  await writeFile(join(dir, 'opt/cai/package.json'), '{"type":"module","private":true}\n', { mode: 0o644 });
  await chmod(join(dir, 'tmp'), 0o1777);
  // Directories get fixed modes too; mkfs.erofs records them.
  const fixDirs = async (d: string): Promise<void> => {
    await chmod(d, d.endsWith('/tmp') ? 0o1777 : 0o755);
    for (const e of await readdir(d, { withFileTypes: true })) if (e.isDirectory()) await fixDirs(join(d, e.name));
  };
  await fixDirs(dir);
}

function osRelease(p: DebianHostProfile): Buffer {
  return Buffer.from(
    [`NAME="Confidential Agent Operator guest (${p.profile})"`, 'ID=cai', `IMAGE_ID=${p.name}`, `IMAGE_VERSION=${p.version}`, `VARIANT_ID=${p.profile}`, ''].join('\n'),
  );
}

/** The inputs, by content: equal keys mean an equal image. */
async function cacheKey(pl: Plan, opts: BuildOptions): Promise<{ key: string; inputs: Record<string, string> }> {
  const inputs: Record<string, string> = {};
  const add = async (label: string, path: string) => (inputs[label] = await fileSha256(path));
  await add('kernel', pl.vmlinuz);
  await add('stub', pl.stub);
  await add('builder', join(REPO_ROOT, 'operator/src/image/build.ts'));
  for (const f of ['cpio.ts', 'uki.ts', 'gpt.ts']) await add(`builder/${f}`, join(REPO_ROOT, 'operator/src/image', f));
  for (const i of pl.initrdInputs) await add(`initrd/${i.dest}`, i.source);
  for (const i of pl.rootfsInputs) await add(`rootfs/${i.dest}`, i.source);
  const tools = await Promise.all([tool('mkfs.erofs', ['--version']).catch(() => ''), tool('veritysetup', ['--version']), tool('mkfs.fat', ['--help']).catch((e: unknown) => String(e)).then((s) => s.split('\n')[0] ?? ''), tool('mtools', ['--version']), tool('qemu-img', ['--version'])]);
  const key = sha256(
    JSON.stringify({ profile: opts.profile, epoch: opts.sourceDateEpoch, cmdlineAppend: opts.cmdlineAppend ?? [], initrdExtra: Object.fromEntries(Object.entries(opts.initrdExtra ?? {}).map(([k, v]) => [k, sha256(v)])), inputs, tools: tools.map((t) => t.split('\n')[0]), release: pl.release, kernelVersion: pl.kernelVersion }),
  );
  return { key, inputs };
}

/** Keeps the cache bounded: the newest CACHE_KEEP complete builds (and the one just made). */
const CACHE_KEEP = 4;
async function pruneCache(root: string, keep: string): Promise<void> {
  const entries: { key: string; at: number }[] = [];
  for (const e of await readdir(root, { withFileTypes: true })) {
    if (!e.isDirectory() || !/^[0-9a-f]{64}$/.test(e.name)) continue;
    const done = await stat(join(root, e.name, 'done')).catch(() => undefined);
    if (done) entries.push({ key: e.name, at: done.mtimeMs });
  }
  entries.sort((a, b) => b.at - a.at);
  for (const old of entries.slice(CACHE_KEEP)) if (old.key !== keep) await rm(join(root, old.key), { recursive: true, force: true });
}

export function defaultCacheDir(): string {
  return join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'cai-operator', 'guest-image');
}

const ESP_TIME = (epoch: number) => ({ SOURCE_DATE_EPOCH: String(epoch), TZ: 'UTC' });

async function buildEsp(uki: Buffer, path: string, p: DebianHostProfile, epoch: number, work: string): Promise<void> {
  const volumeId = derivedGuid(`${p.name}/esp-volume`).slice(0, 8);
  await tool('mkfs.fat', ['-C', '--invariant', '-F', '32', '-n', 'CAI-ESP', '-i', volumeId, path, String(p.disk.espMiB * 1024)], ESP_TIME(epoch));
  const ukiPath = join(work, 'BOOTX64.EFI');
  await writeFile(ukiPath, uki);
  await utimes(ukiPath, epoch, epoch); // mcopy -m keeps it; mmd/mkfs take SOURCE_DATE_EPOCH
  await tool('mmd', ['-i', path, '::EFI', '::EFI/BOOT'], ESP_TIME(epoch));
  await tool('mcopy', ['-i', path, '-m', ukiPath, '::EFI/BOOT/BOOTX64.EFI'], ESP_TIME(epoch));
}

async function writeDisk(raw: string, parts: { label: string; type: string; file?: string; size: number }[], name: string): Promise<void> {
  const layout = gptLayout(name, parts.map((p) => ({ label: p.label, type: p.type, size: p.size })));
  const fh = await open(raw, 'w');
  try {
    await fh.truncate(layout.diskBytes);
    await fh.write(layout.head, 0, layout.head.length, 0);
    for (const [i, p] of parts.entries()) {
      if (!p.file) continue;
      const data = await readFile(p.file);
      await fh.write(data, 0, data.length, layout.partitions[i]!.offset);
    }
    await fh.write(layout.tail, 0, layout.tail.length, layout.diskBytes - layout.tail.length);
  } finally {
    await fh.close();
  }
}

/** The event OVMF logs for BOOTX64.EFI is the UKI's Authenticode hash (PCR4 / RTMR1). */
function pcr4Event(uki: Buffer): { sha256: string; sha384: string } {
  return { sha256: authenticodeDigest(uki, 'sha256'), sha384: authenticodeDigest(uki, 'sha384') };
}

export async function buildImage(opts: BuildOptions): Promise<BuildResult> {
  const log = opts.log ?? (() => undefined);
  const p = opts.profile;
  if (!Number.isInteger(opts.sourceDateEpoch) || opts.sourceDateEpoch < 315532800 || opts.sourceDateEpoch > 4102444800)
    throw new ImageBuildError('Unsupported', `SOURCE_DATE_EPOCH ${opts.sourceDateEpoch} must be an integer between 1980 and 2100 (FAT timestamps)`);
  const pl = await plan(opts);
  const { key, inputs } = await cacheKey(pl, opts);
  const cacheRoot = opts.cacheDir ?? defaultCacheDir();
  const cached = join(cacheRoot, key);
  const names = { uki: `${p.name}.efi`, qcow2: `${p.name}.qcow2`, manifest: `${p.name}.manifest.json`, referenceValues: `${p.name}.json` };
  let wasCached = true;
  if (!(await stat(join(cached, 'done')).catch(() => undefined))) {
    wasCached = false;
    log(`building ${p.name} (inputs ${key.slice(0, 16)}) in ${cached}`);
    const work = await mkdtemp(join(tmpdir(), 'cai-image-'));
    try {
      const rootDir = join(work, 'rootfs');
      await stageRootfs(pl, rootDir);
      const rootImg = join(work, 'root.erofs');
      const fsUuid = derivedGuid(`${p.name}/rootfs`);
      await tool('mkfs.erofs', ['--quiet', `-T${opts.sourceDateEpoch}`, `-U${fsUuid}`, '--all-root', '-x-1', rootImg, rootDir]);
      log('rootfs (erofs) written');
      const verityImg = join(work, 'root.verity');
      const salt = sha256(`${p.name}/verity-salt/${opts.sourceDateEpoch}`);
      const vout = await tool('veritysetup', ['format', '--data-block-size=4096', '--hash-block-size=4096', `--salt=${salt}`, `--uuid=${derivedGuid(`${p.name}/verity`)}`, rootImg, verityImg]);
      const rootHash = /Root hash:\s+([0-9a-f]{64})/.exec(vout)?.[1];
      if (!rootHash) throw new ImageBuildError('ToolFailed', 'veritysetup format printed no root hash');
      log(`dm-verity root hash ${rootHash}`);
      const cmdline = [...p.cmdline, `cai.verity=${rootHash}`, `cai.key_timeout=${p.initrd.keyTimeoutSeconds}`, ...(opts.cmdlineAppend ?? [])].join(' ');
      const initrd = await buildInitrd(pl, opts);
      const uki = assembleUki(await readFile(pl.stub), {
        osrel: osRelease(p),
        cmdline: Buffer.from(`${cmdline}\0`),
        uname: Buffer.from(pl.release),
        initrd,
        linux: await readFile(pl.vmlinuz),
      });
      const espImg = join(work, 'esp.img');
      await buildEsp(uki, espImg, p, opts.sourceDateEpoch, work);
      const rawDisk = join(work, 'disk.raw');
      const rootSize = (await stat(rootImg)).size;
      const veritySize = (await stat(verityImg)).size;
      await writeDisk(rawDisk, [
        { label: 'cai-esp', type: GPT_TYPE.esp, file: espImg, size: p.disk.espMiB * 1024 * 1024 },
        { label: 'cai-root', type: GPT_TYPE.rootX86_64, file: rootImg, size: rootSize },
        { label: 'cai-verity', type: GPT_TYPE.rootVerityX86_64, file: verityImg, size: veritySize },
        { label: 'cai-data', type: GPT_TYPE.linuxData, size: p.disk.dataMiB * 1024 * 1024 },
      ], p.name);
      await mkdir(cached, { recursive: true });
      await tool('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', rawDisk, join(cached, names.qcow2)]);
      await writeFile(join(cached, names.uki), uki);
      const event = pcr4Event(uki);
      const ukiSha384 = event.sha384;
      const manifest = {
        name: p.name,
        profile: p.profile,
        version: p.version,
        sourceDateEpoch: opts.sourceDateEpoch,
        cacheKey: key,
        kernel: { package: 'linux-image-amd64', release: pl.release, version: pl.kernelVersion },
        cmdline,
        verity: { rootHash, salt, hashAlgorithm: 'sha256', dataBlockSize: 4096, hashBlockSize: 4096 },
        measurements: {
          'measurement.uki.SHA-384': ukiSha384,
          // What OVMF / TDVF log for BOOTX64.EFI (EV_EFI_BOOT_SERVICES_APPLICATION into PCR4 / RTMR1).
          pcr4BootApplication: event,
          initrdSha256: sha256(initrd),
          kernelSha256: inputs['kernel'],
        },
        outputs: { uki: { file: names.uki, sha256: sha256(uki) }, qcow2: { file: names.qcow2, sha256: await fileSha256(join(cached, names.qcow2)) } },
        inputs,
        secrets: 'none: no key is generated into or stored in this image; the LUKS2 data key is released after attestation',
      };
      await writeFile(join(cached, names.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
      await writeFile(join(cached, names.referenceValues), `${JSON.stringify({ 'measurement.uki.SHA-384': [ukiSha384] }, null, 2)}\n`);
      await writeFile(join(cached, 'done'), `${key}\n`);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  if (!wasCached) await pruneCache(cacheRoot, key);
  await mkdir(opts.outDir, { recursive: true });
  const files = {} as BuildResult['files'];
  for (const [k, n] of Object.entries(names) as [keyof typeof names, string][]) {
    const dest = join(opts.outDir, n);
    const tmp = `${dest}.tmp-${process.pid}`;
    await cp(join(cached, n), tmp);
    await rename(tmp, dest);
    files[k] = dest;
  }
  const manifest = JSON.parse(await readFile(files.manifest, 'utf8')) as { cmdline: string; verity: { rootHash: string }; measurements: { pcr4BootApplication: { sha256: string; sha384: string } } };
  return {
    name: p.name,
    cacheKey: key,
    cached: wasCached,
    files,
    ukiSha384: manifest.measurements.pcr4BootApplication.sha384,
    verityRootHash: manifest.verity.rootHash,
    cmdline: manifest.cmdline,
    pcr4UkiEvent: manifest.measurements.pcr4BootApplication,
  };
}

