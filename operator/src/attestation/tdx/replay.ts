// Replays the SHA-384 digests of a CC event log into RTMR0-3 (MR index 1..4; EV_NO_ACTION skipped; each
// register starts at 48 zero bytes and RTMR = SHA384(RTMR ‖ digest)), compares with the quote, and exposes
// the events with decoded data. Also the UKI check: a reference Authenticode SHA-384 among boot applications.
import { createHash } from 'node:crypto';
import { TdxError } from './errors.ts';
import { bytesEqual, toHex } from './bytes.ts';
import { EV_NO_ACTION, TPM_ALG_SHA384 } from './ccel.ts';
import type { CcelLog } from './ccel.ts';
import { AAEL_TAG, EV_EFI_BOOT_SERVICES_APPLICATION, EV_EVENT_TAG, decodeEvent, eventTypeName } from './ccel-events.ts';
import type { DecodedEvent } from './ccel-events.ts';

export interface ReplayedEvent {
  index: number;
  /** 'MRTD' for MR index 0, else 'RTMR0'..'RTMR3'. */
  register: string;
  type: string;
  sha384: string;
  decoded?: DecodedEvent;
  /** For events whose digest rule is known (AAEL tags, separators, EFI actions): does the data hash to the digest? */
  digestMatchesData?: boolean;
}

export interface Replay {
  rtmrs: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  events: ReplayedEvent[];
}

const DATA_DIGEST_TYPES = new Set([0x4, 0x80000007]);

export function replayCcel(log: CcelLog): Replay {
  const rtmrs: [Uint8Array, Uint8Array, Uint8Array, Uint8Array] = [new Uint8Array(48), new Uint8Array(48), new Uint8Array(48), new Uint8Array(48)];
  const events: ReplayedEvent[] = [];
  for (const ev of log.events) {
    const digest = ev.digests.get(TPM_ALG_SHA384);
    if (!digest) throw new TdxError('EventLogMalformed', `event ${ev.index} has no SHA-384 digest`);
    if (ev.mrIndex >= 1 && ev.eventType !== EV_NO_ACTION) {
      const i = ev.mrIndex - 1;
      rtmrs[i] = new Uint8Array(createHash('sha384').update(rtmrs[i] as Uint8Array).update(digest).digest());
    }
    const out: ReplayedEvent = { index: ev.index, register: ev.mrIndex === 0 ? 'MRTD' : `RTMR${ev.mrIndex - 1}`, type: eventTypeName(ev.eventType), sha384: toHex(digest) };
    const decoded = decodeEvent(ev.eventType, ev.data);
    if (decoded) out.decoded = decoded;
    const isAael = ev.eventType === EV_EVENT_TAG && decoded?.kind === 'aael';
    if (isAael || DATA_DIGEST_TYPES.has(ev.eventType)) {
      out.digestMatchesData = bytesEqual(createHash('sha384').update(ev.data).digest(), digest);
    }
    events.push(out);
  }
  return { rtmrs, events };
}

/**
 * Throws RtmrMismatch naming every register that differs, or EventLogMalformed when an AAEL event's data does
 * not hash to its digest (its decoded content would otherwise be unauthenticated).
 */
export function checkReplayMatchesQuote(replay: Replay, quoteRtmrs: readonly Uint8Array[]): void {
  const bad = replay.rtmrs.flatMap((r, i) => (bytesEqual(r, quoteRtmrs[i] ?? new Uint8Array()) ? [] : [i]));
  if (bad.length > 0) {
    const detail = bad.map((i) => `RTMR${i} replayed ${toHex(replay.rtmrs[i] as Uint8Array)} but the quote has ${toHex(quoteRtmrs[i] ?? new Uint8Array())}`).join('; ');
    throw new TdxError('RtmrMismatch', `event log does not replay to the quote: ${detail}`);
  }
  const forged = replay.events.find((e) => e.decoded?.kind === 'aael' && e.digestMatchesData === false);
  if (forged) throw new TdxError('EventLogMalformed', `AAEL event ${forged.index} data does not hash to its recorded SHA-384 digest`);
}

/** SHA-384 digests (hex) of EV_EFI_BOOT_SERVICES_APPLICATION events, in log order. */
export function bootApplicationDigests(replay: Replay): string[] {
  return replay.events.filter((e) => e.type === eventTypeName(EV_EFI_BOOT_SERVICES_APPLICATION)).map((e) => e.sha384);
}

/** UKI check: is the reference Authenticode SHA-384 one of the boot applications of a log that replayed? */
export function ukiMeasured(replay: Replay, referenceSha384: string): boolean {
  return bootApplicationDigests(replay).includes(referenceSha384.toLowerCase());
}

export { AAEL_TAG };
