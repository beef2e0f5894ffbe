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
