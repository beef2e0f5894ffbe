// Intel signs the exact bytes of the `tcbInfo` / `enclaveIdentity` JSON value inside the PCS response body.
// This finds that value's raw text span (never re-serialized) plus the hex r‖s signature next to it.
import { TdxError } from './errors.ts';
import type { TdxErrorCode } from './errors.ts';
import { fromHex } from './bytes.ts';

export interface SignedJson {
  /** The exact signed text of the inner value. */
  signedText: string;
  value: unknown;
  /** Raw P-256 signature r‖s (64 bytes). */
  signature: Uint8Array;
}

const WS = new Set([' ', '\t', '\n', '\r']);

function skipWs(s: string, i: number): number {
  while (i < s.length && WS.has(s[i] as string)) i++;
  return i;
}

function skipString(s: string, i: number): number {
  i++;
  while (i < s.length) {
    const c = s[i];
    if (c === '\\') i += 2;
    else if (c === '"') return i + 1;
    else i++;
  }
  throw new Error('unterminated string');
}

function skipValue(s: string, i: number): number {
  const c = s[i];
  if (c === '"') return skipString(s, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    while (i < s.length) {
      const d = s[i];
      if (d === '"') {
        i = skipString(s, i);
        continue;
      }
      if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    throw new Error('unterminated container');
  }
  while (i < s.length && !WS.has(s[i] as string) && s[i] !== ',' && s[i] !== '}') i++;
  return i;
}

/** Raw text spans of the top-level members of a JSON object whose text is already known to be valid JSON. */
function spansOfValidJson(text: string): Map<string, [number, number]> {
  const spans = new Map<string, [number, number]>();
  let i = skipWs(text, 0);
  if (text[i] !== '{') throw new Error('top level is not an object');
  i = skipWs(text, i + 1);
  while (text[i] !== '}') {
    const keyEnd = skipString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWs(text, keyEnd);
    if (text[i] !== ':') throw new Error('expected ":"');
    const start = skipWs(text, i + 1);
    const end = skipValue(text, start);
    if (spans.has(key)) throw new Error(`duplicate member "${key}"`);
    spans.set(key, [start, end]);
    i = skipWs(text, end);
    if (text[i] === ',') i = skipWs(text, i + 1);
    else if (text[i] !== '}') throw new Error('expected "," or "}"');
  }
  return spans;
}

/** Raw text spans of the top-level members of a JSON object (the whole text must also be valid JSON). */
export function topLevelSpans(text: string): Map<string, [number, number]> {
  JSON.parse(text);
  return spansOfValidJson(text);
}

/** Splits a PCS body `{"<member>":{...},"signature":"<hex>"}` into the signed text, its value and signature. */
export function extractSignedJson(body: Uint8Array, member: string, what: string, code: TdxErrorCode): SignedJson {
  let text: string;
  let parsed: unknown;
  let spans: Map<string, [number, number]>;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    parsed = JSON.parse(text);
    spans = spansOfValidJson(text);
  } catch (err) {
    throw new TdxError(code, `${what} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const span = spans.get(member);
  const sigSpan = spans.get('signature');
  if (!span || !sigSpan || spans.size !== 2) {
    throw new TdxError(code, `${what} must have exactly the members "${member}" and "signature"`);
  }
  // The members were parsed with the whole text (which has no duplicates: the span scan rejects them).
  const members = parsed as Record<string, unknown>;
  const sigValue = members.signature;
  if (typeof sigValue !== 'string' || sigValue.length !== 128) throw new TdxError(code, `${what} signature is not 64 bytes of hex`);
  const signature = fromHex(sigValue, `${what} signature`, code, true);
  return { signedText: text.slice(span[0], span[1]), value: members[member], signature };
}
