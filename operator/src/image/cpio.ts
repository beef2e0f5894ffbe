// Deterministic cpio "newc" archive writer for the initrd: entries in the given order, every inode number,
// owner and mtime fixed by the caller, so the same files give the same bytes (the UKI digest covers them).
export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Buffer; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'char'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
}

function pad4(len: number): Buffer {
  return Buffer.alloc((4 - (len % 4)) % 4);
}

function record(name: string, ino: number, mode: number, mtime: number, data: Buffer, rdev: [number, number] = [0, 0]): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const header = `070701${[ino, mode, 0, 0, 1, mtime, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0].map(hex8).join('')}`;
  const head = Buffer.concat([Buffer.from(header, 'ascii'), nameBytes]);
  return [head, pad4(head.length), data, pad4(data.length)];
}

/** Builds the archive; paths are relative ("bin/sh"), parents must be listed before children. */
export function writeCpio(entries: readonly CpioEntry[], mtime: number): Buffer {
  const parts: Buffer[] = [];
  const seen = new Set<string>();
  entries.forEach((e, i) => {
    if (e.path.startsWith('/') || e.path.split('/').includes('..') || seen.has(e.path)) throw new Error(`cpio: bad or duplicate path "${e.path}"`);
    seen.add(e.path);
    const ino = i + 1;
    switch (e.kind) {
      case 'dir':
        parts.push(...record(e.path, ino, S_IFDIR | (e.mode ?? 0o755), mtime, Buffer.alloc(0)));
        break;
      case 'file':
        parts.push(...record(e.path, ino, S_IFREG | (e.mode ?? 0o644), mtime, e.data));
        break;
      case 'symlink':
        parts.push(...record(e.path, ino, S_IFLNK | 0o777, mtime, Buffer.from(e.target, 'utf8')));
        break;
      case 'char':
        parts.push(...record(e.path, ino, S_IFCHR | (e.mode ?? 0o600), mtime, Buffer.alloc(0), [e.major, e.minor]));
        break;
    }
  });
  parts.push(...record('TRAILER!!!', 0, 0, 0, Buffer.alloc(0)));
  return Buffer.concat(parts);
}
