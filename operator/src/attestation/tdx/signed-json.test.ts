// The raw-span extraction of Intel's signed JSON: the exact signed text of a real PCS body, the span scanner on
// every kind of JSON value, and each rejection with its code and the sentence naming the failed check.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { extractSignedJson, topLevelSpans } from './signed-json.ts';
import { tdxFailure } from '../../../test/support/tdx-failure.ts';

const enc = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const sig = 'ab'.repeat(64);

const failure = tdxFailure;
const extract = (text: string | Uint8Array) => extractSignedJson(typeof text === 'string' ? enc(text) : text, 'tcbInfo', 'TCB Info', 'TcbInfoMalformed');
const malformed = (message: string) => ({ code: 'TcbInfoMalformed', message });

describe('extractSignedJson on a real PCS body', () => {
  it('returns the exact bytes between "tcbInfo": and ,"signature", the parsed value and the signature', () => {
    const raw = readFileSync(join(TDX_FIXTURES, 'v4-b0c06f000000-phala', 'collateral-2025-06', 'tcb_info.json'), 'utf8');
    const s = extract(raw);
    const start = raw.indexOf('{', raw.indexOf('"tcbInfo"'));
    expect(s.signedText).toBe(raw.slice(start, raw.lastIndexOf(',"signature"')));
    expect(s.value).toEqual((JSON.parse(raw) as { tcbInfo: unknown }).tcbInfo);
    expect(Buffer.from(s.signature).toString('hex')).toBe((JSON.parse(raw) as { signature: string }).signature);
  });

  it('keeps escaped quotes and backslashes inside the signed text', () => {
    const inner = String.raw`{"a":"x\"},{\\","b":["\"]"]}`;
    expect(extract(`{"tcbInfo":${inner},"signature":"${sig}"}`).signedText).toBe(inner);
  });
});

describe('topLevelSpans', () => {
  const spans = (text: string) => Object.fromEntries([...topLevelSpans(text)].map(([k, [s, e]]) => [k, text.slice(s, e)]));

  it('spans strings (with commas, braces and spaces inside), numbers, literals, arrays and objects', () => {
    expect(spans('{"s":"a, b}","n":12 ,"t":true,"f":false\t,"z":null,"e":-1.5e3}')).toEqual({ s: '"a, b}"', n: '12', t: 'true', f: 'false', z: 'null', e: '-1.5e3' });
    expect(spans('{ "a" : [1,{"x":"]"}] ,\n"o":{"p":[]} }')).toEqual({ a: '[1,{"x":"]"}]', o: '{"p":[]}' });
    expect(spans('{"last":7}')).toEqual({ last: '7' });
  });

  it('rejects text that is not JSON before scanning it', () => {
    expect(() => topLevelSpans('{"a":1,}')).toThrow(SyntaxError);
  });
});

describe('extractSignedJson rejections', () => {
  it('invalid UTF-8 is not JSON, even inside a string', () => {
    const body = Buffer.concat([Buffer.from('{"tcbInfo":{"a":"'), Buffer.from([0xff]), Buffer.from(`"},"signature":"${sig}"}`)]);
    expect(failure(() => extract(new Uint8Array(body)))).toEqual(malformed('TCB Info is not valid JSON: The encoded data was not valid for encoding utf-8'));
  });

  it('a top level that is not an object, and a repeated member', () => {
    expect(failure(() => extract(`["tcbInfo",{},"signature","${sig}"]`))).toEqual(malformed('TCB Info is not valid JSON: top level is not an object'));
    expect(failure(() => extract(`{"tcbInfo":{},"tcbInfo":{},"signature":"${sig}"}`))).toEqual(malformed('TCB Info is not valid JSON: duplicate member "tcbInfo"'));
  });

  it('exactly the signed member and "signature"', () => {
    const members = malformed('TCB Info must have exactly the members "tcbInfo" and "signature"');
    expect(failure(() => extract(`{"tcbInfo":{},"other":"${sig}"}`))).toEqual(members);
    expect(failure(() => extract(`{"other":{},"signature":"${sig}"}`))).toEqual(members);
    expect(failure(() => extract(`{"tcbInfo":{},"signature":"${sig}","other":1}`))).toEqual(members);
    expect(failure(() => extract(`{"signature":"${sig}"}`))).toEqual(members);
  });

  it('a signature that is not 128 lowercase hex characters', () => {
    const notHex = malformed('TCB Info signature is not 64 bytes of hex');
    expect(failure(() => extract(`{"tcbInfo":{},"signature":"${sig.slice(2)}"}`))).toEqual(notHex);
    expect(failure(() => extract(`{"tcbInfo":{},"signature":${JSON.stringify(new Array(128).fill(0))}}`))).toEqual(notHex);
    expect(failure(() => extract(`{"tcbInfo":{},"signature":1}`))).toEqual(notHex);
    expect(failure(() => extract(`{"tcbInfo":{},"signature":"${sig.toUpperCase()}"}`))).toEqual(malformed('TCB Info signature is not a valid hex string'));
  });
});
