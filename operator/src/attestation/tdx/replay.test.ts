// Replay rules on the captured Alibaba Cloud AAEL log, with events added or edited in the parsed log where no
// captured log has the case (an MRTD event, EV_NO_ACTION after the header, a non-AAEL tag, a bad separator).
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CCEL_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { parseCcel } from './ccel.ts';
import type { CcelEvent, CcelLog } from './ccel.ts';
import { checkReplayMatchesQuote, replayCcel } from './replay.ts';
import { AAEL_TAG } from './ccel-events.ts';
import { TdxError } from './errors.ts';

const log = parseCcel(new Uint8Array(readFileSync(join(CCEL_FIXTURES, 'logs-without-quote', 'trustee_CCEL_AAEL_alibabacloud.bin'))));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sha384 = (b: Uint8Array) => new Uint8Array(createHash('sha384').update(b).digest());
const event = (over: Partial<CcelEvent>): CcelEvent => ({ index: log.events.length + 1, mrIndex: 1, eventType: 0x80000008, digests: new Map([[0x000c, sha384(Buffer.from('x'))]]), data: new Uint8Array(), ...over });
const withEvents = (...extra: CcelEvent[]): CcelLog => ({ ...log, events: [...log.events, ...extra] });
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err instanceof TdxError ? { code: err.code, message: err.message } : err;
  }
  return undefined;
}

describe('replayCcel', () => {
  // Replayed inside each test, not at collection time, so that the code under test runs in the test.
  it('one replayed event per log event, in order', () => {
    expect(replayCcel(log).events.map((e) => e.index)).toEqual(log.events.map((e) => e.index));
  });

  it('MRTD (index 0) and EV_NO_ACTION events are listed but extend no RTMR', () => {
    const base = replayCcel(log);
    const r = replayCcel(withEvents(event({ mrIndex: 0 }), event({ index: log.events.length + 2, mrIndex: 2, eventType: 0x3 })));
    expect(r.rtmrs.map(hex)).toEqual(base.rtmrs.map(hex));
    expect(r.events.slice(-2).map((e) => [e.register, e.type])).toEqual([['MRTD', 'EV_EFI_PLATFORM_FIRMWARE_BLOB'], ['RTMR1', 'EV_NO_ACTION']]);
  });

  it('an event without a SHA-384 digest is refused', () => {
    expect(thrown(() => replayCcel(withEvents(event({ digests: new Map([[0x000b, new Uint8Array(32)]]) }))))).toEqual({
      code: 'EventLogMalformed',
      message: `event ${log.events.length + 1} has no SHA-384 digest`,
    });
  });

  it('checks data against digest only for AAEL tags, separators and EFI actions', () => {
    const data = new Uint8Array([1, 2, 3, 4]);
    const r = replayCcel(
      withEvents(
        event({ eventType: 0x6, data: (() => { const b = Buffer.alloc(11); b.writeUInt32LE(0x1234, 0); b.writeUInt32LE(3, 4); return new Uint8Array(b); })() }),
        event({ index: log.events.length + 2, eventType: 0x6, data: new Uint8Array([1, 2]) }),
        event({ index: log.events.length + 3, eventType: 0x80000003, data }),
        event({ index: log.events.length + 4, eventType: 0x4, data, digests: new Map([[0x000c, sha384(data)]]) }),
      ),
    );
    const [tag, junkTag, app, sep] = r.events.slice(-4);
    expect(tag?.decoded).toEqual({ kind: 'tagged', tag: 0x1234, dataLength: 3 });
    expect([tag?.digestMatchesData, junkTag?.digestMatchesData, app?.digestMatchesData, sep?.digestMatchesData]).toEqual([undefined, undefined, undefined, true]);
    expect(r.events.filter((e) => e.decoded?.kind === 'aael').every((e) => e.digestMatchesData === true)).toBe(true);
    expect(AAEL_TAG).toBe(0x4141454c);
  });
});

describe('checkReplayMatchesQuote', () => {
  it('names every register that differs, separated by "; "', () => {
    const zero = [new Uint8Array(48), new Uint8Array(48), new Uint8Array(48), new Uint8Array(48)];
    const r = replayCcel(log);
    const quoteRtmrs = [r.rtmrs[0], zero[1], r.rtmrs[2], zero[3]] as Uint8Array[];
    expect(thrown(() => checkReplayMatchesQuote(r, quoteRtmrs))).toEqual({
      code: 'RtmrMismatch',
      message: `event log does not replay to the quote: RTMR1 replayed ${hex(r.rtmrs[1] as Uint8Array)} but the quote has ${'0'.repeat(96)}; RTMR3 replayed ${hex(r.rtmrs[3] as Uint8Array)} but the quote has ${'0'.repeat(96)}`,
    });
  });

  it('a separator whose data does not hash to its digest is reported, not refused (only AAEL content is trusted)', () => {
    const r = replayCcel(withEvents(event({ eventType: 0x4, data: new Uint8Array([0, 0, 0, 1]) })));
    expect(r.events.at(-1)?.digestMatchesData).toBe(false);
    expect(() => checkReplayMatchesQuote(r, r.rtmrs)).not.toThrow();
  });
});
