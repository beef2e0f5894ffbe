// Event data decoding: names, device paths, text, tagged and AAEL events. The byte strings are hand-made event
// data in the layouts the captured logs use (ccel.test.ts decodes the captured logs themselves).
import { describe, expect, it } from 'vitest';
import { AAEL_TAG, EV_EVENT_TAG, decodeEvent, devicePathText, eventTypeName } from './ccel-events.ts';

const EV_IPL = 0xd;
const EV_NO_ACTION = 0x3;
const EV_EFI_GPT_EVENT = 0x80000006;
const node = (type: number, subtype: number, body: number[] = []) => [type, subtype, (body.length + 4) & 0xff, (body.length + 4) >> 8, ...body];
const utf16 = (s: string) => [...Buffer.from(s, 'utf16le')];
function tagged(tag: number, body: Uint8Array | number[]): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(tag, 0);
  b.writeUInt32LE(body.length, 4);
  return new Uint8Array(Buffer.concat([b, Buffer.from(body)]));
}

describe('eventTypeName', () => {
  it('names known types and prints others as 8-digit hex', () => {
    expect(eventTypeName(0x80000003)).toBe('EV_EFI_BOOT_SERVICES_APPLICATION');
    expect(eventTypeName(0x0)).toBe('EV_PREBOOT_CERT');
    expect(eventTypeName(0x1234)).toBe('0x00001234');
  });
});

describe('devicePathText', () => {
  it('prints a last node of exactly 4 bytes', () => {
    expect(devicePathText(new Uint8Array(node(1, 1)))).toBe('1/1');
  });
  it('stops at a node length below 4 or at the end node, keeping what came before', () => {
    expect(devicePathText(new Uint8Array([...node(1, 1), 2, 2, 2, 0, 9, 9]))).toBe('1/1');
    expect(devicePathText(new Uint8Array([...node(1, 1), ...node(0x7f, 0xff), ...node(2, 2)]))).toBe('1/1');
  });
  it('spells out only media File (4/4) and HD (4/1) nodes', () => {
    expect(devicePathText(new Uint8Array([...node(1, 4, [0x41, 0]), ...node(4, 3, [1, 2]), ...node(4, 1, [0])]))).toBe('1/4/4/3/HD');
  });
  it('strips the NUL terminator run of a File name, not a NUL inside it', () => {
    expect(devicePathText(new Uint8Array(node(4, 4, utf16('\\EFI\\BOOT.EFI\0\0'))))).toBe('File(\\EFI\\BOOT.EFI)');
    expect(devicePathText(new Uint8Array(node(4, 4, utf16('a\0b\0'))))).toBe('File(a\0b)');
  });
});

describe('decodeEvent', () => {
  it('text events: printable ASCII with its trailing NULs removed', () => {
    expect(decodeEvent(EV_IPL, Buffer.from('grub_cmd: linux /vmlinuz\0\0'))).toEqual({ kind: 'text', text: 'grub_cmd: linux /vmlinuz' });
    expect(decodeEvent(0x80000007, Buffer.from('Calling EFI Application from Boot Option'))).toEqual({ kind: 'text', text: 'Calling EFI Application from Boot Option' });
  });
  it('text events with a non-printable byte anywhere are not text', () => {
    for (const data of ['\x01abc', 'abc\x01', 'ab\x01c', 'a\0b']) expect(decodeEvent(EV_IPL, Buffer.from(data)), JSON.stringify(data)).toBeUndefined();
  });
  it('only the text event types are read as text', () => {
    expect(decodeEvent(EV_EFI_GPT_EVENT, Buffer.from('printable'))).toBeUndefined();
    expect(decodeEvent(EV_NO_ACTION, Buffer.from('StartupLocality\0'))).toBeUndefined();
  });
  it('tagged events: AAEL split into domain, operation and content; other tags by size only', () => {
    expect(decodeEvent(EV_EVENT_TAG, tagged(AAEL_TAG, Buffer.from('file /etc/x some content')))).toEqual({ kind: 'aael', domain: 'file', operation: '/etc/x', content: 'some content' });
    expect(decodeEvent(EV_EVENT_TAG, tagged(AAEL_TAG, Buffer.from('domainonly')))).toEqual({ kind: 'aael', domain: 'domainonly', operation: '', content: '' });
    expect(decodeEvent(EV_EVENT_TAG, tagged(0x12345678, [1, 2, 3]))).toEqual({ kind: 'tagged', tag: 0x12345678, dataLength: 3 });
  });
  it('AAEL content must be valid UTF-8', () => {
    expect(decodeEvent(EV_EVENT_TAG, tagged(AAEL_TAG, [0x61, 0x20, 0xff, 0x20, 0x62]))).toBeUndefined();
  });
  it('undecodable data is undefined, never an exception', () => {
    expect(decodeEvent(EV_EVENT_TAG, new Uint8Array([1, 2, 3]))).toBeUndefined();
    expect(decodeEvent(0x80000003, new Uint8Array(10))).toBeUndefined();
  });
});
