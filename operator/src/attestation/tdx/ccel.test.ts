import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CCEL_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { parseCcel } from './ccel.ts';
import { bootApplicationDigests, checkReplayMatchesQuote, replayCcel, ukiMeasured } from './replay.ts';
import { parseTdxQuote } from './quote.ts';
import { TdxError } from './errors.ts';

const read = (...p: string[]) => new Uint8Array(readFileSync(join(CCEL_FIXTURES, ...p)));
const expected = (set: string) => JSON.parse(readFileSync(join(CCEL_FIXTURES, set, 'expected.json'), 'utf8')) as Record<string, unknown>;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

interface BootApp { index: number; rtmr: number; image_length: number; device_path: string; authenticode_sha384: string }

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('CCEL replay: GCP COS 113 log and quote of the same boot', () => {
  const set = 'gcp-cos113-go-tdx-guest';
  const log = parseCcel(read(set, 'ccel_data.bin'));
  const quote = parseTdxQuote(read(set, 'quote.bin'));
  const exp = expected(set) as { event_log: { n_extended_events: number; log_bytes_used: number; boot_services_applications: BootApp[] } };

  it('parses every event up to the fill', () => {
    expect(log.events.length).toBe(exp.event_log.n_extended_events);
    expect(log.length).toBe(exp.event_log.log_bytes_used);
  });

  it('replays to RTMR0-3 of the quote', () => {
    const replay = replayCcel(log);
    expect(replay.rtmrs.map(hex)).toEqual(quote.body.rtmrs.map(hex));
    expect(() => checkReplayMatchesQuote(replay, quote.body.rtmrs)).not.toThrow();
  });

  it('decodes the boot applications (device path, image length, digest)', () => {
    const apps = replayCcel(log).events.filter((e) => e.decoded?.kind === 'boot_application');
    expect(
      apps.map((e) => ({
        index: e.index,
        rtmr: Number(e.register.slice(4)),
        image_length: e.decoded?.kind === 'boot_application' ? e.decoded.imageLength : -1,
        device_path: e.decoded?.kind === 'boot_application' ? e.decoded.devicePath : '',
        authenticode_sha384: e.sha384,
      })),
    ).toEqual(exp.event_log.boot_services_applications);
  });

  it('decodes UEFI variables', () => {
    const vars = replayCcel(log).events.flatMap((e) => (e.decoded?.kind === 'uefi_variable' ? [e.decoded.name] : []));
    expect(vars).toEqual(expect.arrayContaining(['SecureBoot', 'PK', 'KEK', 'db', 'dbx', 'BootOrder']));
  });

  it('a modified event breaks the match and the reason names the RTMR', () => {
    const bytes = read(set, 'ccel_data.bin');
    const grub = parseCcel(bytes).events.find((e) => e.index === 24);
    const digest = grub?.digests.get(0x000c);
    if (!digest) throw new Error('fixture event 24 has no SHA-384 digest');
    const at = digest.byteOffset - bytes.byteOffset;
    bytes[at] = (bytes[at] ?? 0) ^ 0x01;
    const err = thrownBy(() => checkReplayMatchesQuote(replayCcel(parseCcel(bytes)), quote.body.rtmrs));
    expect(err).toBeInstanceOf(TdxError);
    expect((err as TdxError).code).toBe('RtmrMismatch');
    expect((err as TdxError).message).toMatch(/RTMR1 replayed/);
    expect((err as TdxError).message).not.toMatch(/RTMR0|RTMR2|RTMR3/);
  });

  it('a dropped event breaks the match', () => {
    const replay = replayCcel({ ...log, events: log.events.filter((e) => e.index !== 30) });
    const err = thrownBy(() => checkReplayMatchesQuote(replay, quote.body.rtmrs));
    expect((err as TdxError).code).toBe('RtmrMismatch');
  });
});

describe('CCEL replay: other logs', () => {
  it('Ubuntu grub log: RTMR0/1/3 match, RTMR2 (extended by IMA outside the CCEL) is named as the mismatch', () => {
    const set = 'ubuntu-grub-ima-evidence-api';
    const quote = parseTdxQuote(read(set, 'quote.bin'));
    const replay = replayCcel(parseCcel(read(set, 'ccel_data.bin')));
    const err = thrownBy(() => checkReplayMatchesQuote(replay, quote.body.rtmrs));
    expect((err as TdxError).code).toBe('RtmrMismatch');
    expect((err as TdxError).message).toMatch(/^event log does not replay to the quote: RTMR2 replayed [0-9a-f]{96} but the quote has 247eed9f/);
  });

  it('Alibaba Cloud log with AAEL events: replay values, AAEL decoding and digest rule', () => {
    const set = 'logs-without-quote';
    const exp = expected(set) as { logs: Record<string, { replayed: Record<string, string>; event_log: { event_tags: { index: number; event_data_utf8: string; digest_sha384: string }[] } }> };
    const want = exp.logs['trustee_CCEL_AAEL_alibabacloud.bin'];
    if (!want) throw new Error('expected entry missing');
    const replay = replayCcel(parseCcel(read(set, 'trustee_CCEL_AAEL_alibabacloud.bin')));
    expect(replay.rtmrs.map(hex)).toEqual([want.replayed.rtmr0, want.replayed.rtmr1, want.replayed.rtmr2, want.replayed.rtmr3]);
    const aael = replay.events.filter((e) => e.decoded?.kind === 'aael');
    expect(aael.map((e) => e.index)).toEqual(want.event_log.event_tags.map((t) => t.index));
    expect(aael.map((e) => e.sha384)).toEqual(want.event_log.event_tags.map((t) => t.digest_sha384));
    expect(aael.map((e) => (e.decoded?.kind === 'aael' ? `${e.decoded.domain} ${e.decoded.operation} ${e.decoded.content}` : ''))).toEqual(
      want.event_log.event_tags.map((t) => t.event_data_utf8),
    );
    expect(aael.every((e) => e.digestMatchesData === true && e.register === 'RTMR3')).toBe(true);
    // The replay matches itself as "quote": only the AAEL data check can fail now.
    expect(() => checkReplayMatchesQuote(replay, replay.rtmrs)).not.toThrow();
  });

  it('an AAEL event whose content was altered (digest kept) is rejected', () => {
    const bytes = read('logs-without-quote', 'trustee_CCEL_AAEL_alibabacloud.bin');
    const text = Buffer.from(bytes).toString('latin1');
    const at = text.indexOf('some-content');
    bytes[at] = 'S'.charCodeAt(0);
    const replay = replayCcel(parseCcel(bytes));
    const err = thrownBy(() => checkReplayMatchesQuote(replay, replay.rtmrs));
    expect((err as TdxError).code).toBe('EventLogMalformed');
    expect((err as TdxError).message).toMatch(/AAEL event 86/);
  });

  it('UKI check: the UKI digest is found among boot applications of the GCP UKI log; others are not', () => {
    const replay = replayCcel(parseCcel(read('logs-without-quote', 'trustee_CCEL_data_gcp_uki.bin')));
    const uki = '8a00de1d573d1af635e1e4e1f98c49c2fe5c3f7bc464097833a99eb78c2b9be2f90f3fe55e0f6314664fbee815a2aea5';
    expect(bootApplicationDigests(replay)).toHaveLength(2);
    expect(ukiMeasured(replay, uki)).toBe(true);
    expect(ukiMeasured(replay, uki.toUpperCase())).toBe(true);
    expect(ukiMeasured(replay, uki.replace(/^8a/, '8b'))).toBe(false);
  });
});

describe('CCEL parser negative cases', () => {
  const full = read('logs-without-quote', 'trustee_CCEL_AAEL_alibabacloud.bin');
  it('truncation at every length fails with EventLogMalformed or parses a prefix; nothing else escapes', () => {
    for (let len = 0; len < 11707; len++) {
      const err = thrownBy(() => parseCcel(full.subarray(0, len)));
      if (err !== undefined) expect((err as TdxError).code, `length ${len}`).toBe('EventLogMalformed');
    }
  });
  it('rejects a log without the Spec ID header', () => {
    expect((thrownBy(() => parseCcel(full.subarray(100))) as TdxError).code).toBe('EventLogMalformed');
  });
  it('rejects an MR index above 4', () => {
    const bytes = new Uint8Array(full);
    const log = parseCcel(bytes);
    const second = log.events[1];
    if (!second) throw new Error('missing');
    // mr_index is the u32 before event_type, 4 + 4 + 2 + 48 + 4 bytes before the event data... locate via the digest.
    const digest = second.digests.get(0x000c);
    if (!digest) throw new Error('missing');
    const mrOffset = digest.byteOffset - bytes.byteOffset - 2 - 4 - 4 - 4;
    bytes[mrOffset] = 9;
    expect((thrownBy(() => parseCcel(bytes)) as TdxError).message).toMatch(/CC MR index 9/);
  });
});

// Offsets in the captured logs (all four share this header): the Spec ID header event is 32 + 33 bytes and
// declares SHA-384 only; event 1 starts at 65 with one SHA-384 digest.
describe('CCEL parser: every check names the field or event', () => {
  const full = read('logs-without-quote', 'trustee_CCEL_AAEL_alibabacloud.bin');
  const fullLog = parseCcel(full);
  const used = full.subarray(0, fullLog.length);
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const splice = (at: number, remove: number, ...insert: (Uint8Array | number[])[]) =>
    new Uint8Array(Buffer.concat([full.subarray(0, at), ...insert.map((i) => Buffer.from(i)), full.subarray(at + remove)]));
  const failure = (bytes: Uint8Array, opts?: { tpm?: boolean }) => {
    const err = thrownBy(() => parseCcel(bytes, opts));
    return err instanceof TdxError ? { code: err.code, message: err.message } : err;
  };
  const malformed = (message: string) => ({ code: 'EventLogMalformed', message });
  const truncated = (what: string, field: string, n: number, at: number, remain = 0) =>
    malformed(`${what} is truncated: field ${field} needs ${n} bytes at offset ${at}, only ${remain} remain`);

  it('header fields, cut one by one', () => {
    const fields: [number, string, number][] = [[0, 'header.pcr_index', 4], [4, 'header.event_type', 4], [8, 'header.sha1_digest', 20], [28, 'header.event_size', 4], [32, 'header.event', 33]];
    for (const [at, field, n] of fields) expect(failure(full.subarray(0, at)), field).toEqual(truncated('event log', field, n, at));
  });

  it('Spec ID event fields, cut by a smaller event_size', () => {
    const fields: [number, string, number][] = [
      [0, 'signature', 16], [16, 'platform_class', 4], [20, 'spec_version_and_uintn_size', 4], [24, 'number_of_algorithms', 4], [28, 'algorithm_id', 2], [30, 'digest_size', 2],
    ];
    for (const [at, field, n] of fields) expect(failure(splice(28, 4, u32(at))), field).toEqual(truncated('Spec ID event', field, n, at));
  });

  it('Spec ID header: event type, signature, algorithm count and SHA-384', () => {
    expect(failure(splice(4, 4, u32(4)))).toEqual(malformed('event log header has event type 4, expected EV_NO_ACTION (Spec ID event)'));
    expect(failure(splice(32 + 15, 1, [0x20]))).toEqual(malformed('event log header is not a "Spec ID Event03" (crypto-agile) header'));
    expect(failure(splice(56, 4, u32(0)))).toEqual(malformed('event log header declares 0 digest algorithms'));
    expect(failure(splice(56, 4, u32(17)))).toEqual(malformed('event log header declares 17 digest algorithms'));
    // 16 is allowed; this header then runs out of algorithm entries.
    expect(failure(splice(56, 4, u32(16)))).toEqual(truncated('Spec ID event', 'algorithm_id', 2, 32, 1));
    expect(failure(splice(60, 2, [0x0b, 0]))).toEqual(malformed('event log header does not declare SHA-384'));
  });

  it('event fields, cut one by one, name the event', () => {
    expect(failure(full.subarray(0, 67))).toEqual(truncated('event log', 'event 1 mr_index', 4, 65, 2));
    const size = new DataView(full.buffer, full.byteOffset).getUint32(127, true);
    const fields: [number, string, number][] = [[69, 'event 1 event_type', 4], [73, 'event 1 digest_count', 4], [77, 'event 1 digest algorithm', 2], [79, 'event 1 digest', 48], [127, 'event 1 event_size', 4], [131, 'event 1 event data', size]];
    for (const [at, field, n] of fields) expect(failure(full.subarray(0, at)), field).toEqual(truncated('event log', field, n, at));
  });

  it('digest count and algorithms of an event', () => {
    expect(failure(splice(73, 4, u32(0)))).toEqual(malformed('event 1 has 0 digests; the header declares 1 algorithms'));
    expect(failure(splice(73, 4, u32(2)))).toEqual(malformed('event 1 has 2 digests; the header declares 1 algorithms'));
    expect(failure(splice(77, 2, [0x0b, 0]))).toEqual(malformed('event 1 has an undeclared or repeated digest algorithm 0xb'));
    // A header declaring SHA-256 too (event size 33 + 4), and event 1 carrying its SHA-384 digest twice.
    const twoAlgs = new Uint8Array(Buffer.concat([full.subarray(0, 28), u32(37), full.subarray(32, 56), u32(2), full.subarray(60, 64), Buffer.from([0x0b, 0, 32, 0]), full.subarray(64, 73), u32(2), full.subarray(77, 127), full.subarray(77)]));
    expect(failure(twoAlgs)).toEqual(malformed('event 1 has an undeclared or repeated digest algorithm 0xc'));
  });

  it('MR index range: 0..4 for a CCEL, 0..23 for a TPM log', () => {
    expect(failure(splice(65, 4, u32(5)))).toEqual(malformed('event 1 has CC MR index 5; TDX has 0 (MRTD) to 4 (RTMR3)'));
    expect(parseCcel(splice(65, 4, u32(23)), { tpm: true }).events[0]?.mrIndex).toBe(23);
    expect(failure(splice(65, 4, u32(24)), { tpm: true })).toEqual(malformed('event 1 has PCR index 24; a TPM has 0 to 23'));
  });

  it('ends at the end of the data, at 0xFF fill of any length, or at 8 zero bytes', () => {
    const count = fullLog.events.length;
    expect(parseCcel(used).events).toHaveLength(count);
    expect(parseCcel(Buffer.concat([used, Buffer.from([0xff, 0xff, 0xff])])).events).toHaveLength(count);
    expect(parseCcel(Buffer.concat([used, Buffer.alloc(8), Buffer.from('junk')])).events).toHaveLength(count);
    // Fewer than 8 zero bytes are not a terminator: they start an event that is cut short.
    expect(failure(Buffer.concat([used, Buffer.alloc(4)]))).toEqual(truncated('event log', `event ${count + 1} event_type`, 4, fullLog.length + 4));
    // An event whose first bytes include 0xFF (an unknown event type) is an event, not fill.
    const odd = parseCcel(splice(69, 4, u32(0xff)));
    expect(odd.events).toHaveLength(count);
    expect(odd.events[0]?.eventType).toBe(0xff);
  });
});
