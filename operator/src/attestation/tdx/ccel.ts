// TCG2 crypto-agile event log as found in the ACPI CCEL area (and sent by the attestation agent as
// `cc_eventlog`): a TCG_PCClientPCREvent "Spec ID Event03" header followed by TCG_PCR_EVENT2 records.
// Parsing stops at the 0xFF/0x00 fill; any inconsistency is an EventLogMalformed error naming the event.
import { ByteReader, bytesEqual } from './bytes.ts';
import { TdxError, asTdxError } from './errors.ts';

export const TPM_ALG_SHA384 = 0x000c;
export const EV_NO_ACTION = 0x3;

export interface CcelEvent {
  /** Position in the log, the header being 0. */
  index: number;
  /** CC measurement register index: 0 = MRTD, 1..4 = RTMR0..3. */
  mrIndex: number;
  eventType: number;
  /** Digests by TPM algorithm ID. */
  digests: Map<number, Uint8Array>;
  data: Uint8Array;
}

export interface CcelLog {
  /** Digest sizes declared by the Spec ID header, by algorithm ID. */
  algorithms: Map<number, number>;
  events: CcelEvent[];
  /** Bytes consumed before the fill/terminator. */
  length: number;
}

const SPEC_ID_SIGNATURE = new TextEncoder().encode('Spec ID Event03\0');

function isFill(data: Uint8Array, offset: number): boolean {
  const rest = data.subarray(offset, offset + 8);
  if (rest.length === 0) return true;
  return rest.every((b) => b === 0xff) || (rest.length === 8 && rest.every((b) => b === 0));
}

function parseSpecIdHeader(r: ByteReader): Map<number, number> {
  r.u32('header.pcr_index');
  const type = r.u32('header.event_type');
  if (type !== EV_NO_ACTION) throw new TdxError('EventLogMalformed', `event log header has event type ${type}, expected EV_NO_ACTION (Spec ID event)`);
  r.bytes(20, 'header.sha1_digest');
  const size = r.u32('header.event_size');
  const ev = new ByteReader(r.bytes(size, 'header.event'), 'Spec ID event', 'EventLogMalformed');
  if (!bytesEqual(ev.bytes(16, 'signature'), SPEC_ID_SIGNATURE)) throw new TdxError('EventLogMalformed', 'event log header is not a "Spec ID Event03" (crypto-agile) header');
  ev.u32('platform_class');
  ev.bytes(4, 'spec_version_and_uintn_size');
  const count = ev.u32('number_of_algorithms');
  if (count === 0 || count > 16) throw new TdxError('EventLogMalformed', `event log header declares ${count} digest algorithms`);
  const algorithms = new Map<number, number>();
  for (let i = 0; i < count; i++) algorithms.set(ev.u16('algorithm_id'), ev.u16('digest_size'));
  if (!algorithms.has(TPM_ALG_SHA384)) throw new TdxError('EventLogMalformed', 'event log header does not declare SHA-384');
  return algorithms;
}

function parse(data: Uint8Array, maxIndex: number): CcelLog {
  const r = new ByteReader(data, 'event log', 'EventLogMalformed');
  const algorithms = parseSpecIdHeader(r);
  const events: CcelEvent[] = [];
  while (!isFill(data, r.offset)) {
    const index = events.length + 1;
    const mrIndex = r.u32(`event ${index} mr_index`);
    const eventType = r.u32(`event ${index} event_type`);
    const count = r.u32(`event ${index} digest_count`);
    if (count === 0 || count > algorithms.size) throw new TdxError('EventLogMalformed', `event ${index} has ${count} digests; the header declares ${algorithms.size} algorithms`);
    const digests = new Map<number, Uint8Array>();
    for (let i = 0; i < count; i++) {
      const alg = r.u16(`event ${index} digest algorithm`);
      const size = algorithms.get(alg);
      if (size === undefined || digests.has(alg)) throw new TdxError('EventLogMalformed', `event ${index} has an undeclared or repeated digest algorithm 0x${alg.toString(16)}`);
      digests.set(alg, r.bytes(size, `event ${index} digest`));
    }
    const size = r.u32(`event ${index} event_size`);
    const eventData = r.bytes(size, `event ${index} event data`);
    if (mrIndex > maxIndex)
      throw new TdxError('EventLogMalformed', maxIndex === 4 ? `event ${index} has CC MR index ${mrIndex}; TDX has 0 (MRTD) to 4 (RTMR3)` : `event ${index} has PCR index ${mrIndex}; a TPM has 0 to ${maxIndex}`);
    events.push({ index, mrIndex, eventType, digests, data: eventData });
  }
  return { algorithms, events, length: r.offset };
}

/**
 * Parses a CCEL (indexes 0..4). `{ tpm: true }` parses the same format as a TPM 2.0 firmware log
 * (OVMF with a vTPM), where the index is a PCR (0..23) and the guest-image boot test reads it.
 */
export function parseCcel(data: Uint8Array, opts: { tpm?: boolean } = {}): CcelLog {
  try {
    return parse(data, opts.tpm ? 23 : 4);
  } catch (err) {
    throw asTdxError(err, 'EventLogMalformed', 'event log could not be parsed');
  }
}
