// NVIDIA RIM (ISO/IEC 19770-2 SWID tag + TCG RIM, XML-DSig signed): golden measurements and their
// verification to the pinned "NVIDIA CoRIM signing Root CA" at an injected time.
import type { Element } from '@xmldom/xmldom';
import { decodeHex } from './bytes.ts';
import { NvidiaError, asNvidiaError } from './errors.ts';
import { verifyChain, type ChainWindow, type ParsedCert } from './x509-chain.ts';
import { parseXml, verifyEnvelopedSignature } from './xmldsig.ts';

export const SWID_NS = 'http://standards.iso.org/iso/19770/-2/2015/schema.xsd';
export const HASH_NS = 'http://www.w3.org/2001/04/xmlenc#sha384';
const MAX_ALTERNATIVES = 16;

export interface GoldenMeasurement {
  /** RIM index (0-based; runtime SPDM block index = RIM index + 1). */
  index: number;
  active: boolean;
  size: number;
  alternatives: Uint8Array[];
}

export interface Rim {
  tagId: string;
  colloquialVersion: string;
  measurements: GoldenMeasurement[];
}

export interface VerifiedRim {
  rim: Rim;
  /** Signer chain (signer first, root last). */
  chain: ParsedCert[];
  /** Times for which this verification result holds (signer chain validity). */
  window: ChainWindow;
}

const malformed = (why: string): NvidiaError => new NvidiaError('RimMalformed', `RIM: ${why}`);

function childElements(el: Element, local: string): Element[] {
  const out: Element[] = [];
  for (let c = el.firstChild; c; c = c.nextSibling) {
    if (c.nodeType === 1 && (c as Element).namespaceURI === SWID_NS && (c as Element).localName === local) out.push(c as Element);
  }
  return out;
}

function intAttr(el: Element, name: string, what: string): number {
  const v = el.getAttribute(name) ?? '';
  if (!/^\d{1,6}$/.test(v)) throw malformed(`${what} attribute '${name}' is not a non-negative integer`);
  return Number(v);
}

function parseResource(el: Element): GoldenMeasurement {
  const index = intAttr(el, 'index', 'Resource');
  const what = `Resource index ${index}`;
  const active = el.getAttribute('active');
  if (active !== 'True' && active !== 'False') throw malformed(`${what} 'active' must be True or False`);
  const size = intAttr(el, 'size', what);
  const count = intAttr(el, 'alternatives', what);
  if (count < 1 || count > MAX_ALTERNATIVES) throw malformed(`${what} has ${count} alternatives (1..${MAX_ALTERNATIVES} allowed)`);
  const alternatives: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const hex = el.getAttributeNS(HASH_NS, `Hash${i}`);
    if (hex === null || hex === '') throw malformed(`${what} lacks Hash${i}`);
    alternatives.push(decodeHex(hex, `${what} Hash${i}`, 'RimMalformed'));
  }
  return { index, active: active === 'True', size, alternatives };
}

/** Reads the golden values from an already-verified document element. */
export function readRim(root: Element): Rim {
  if (root.namespaceURI !== SWID_NS || root.localName !== 'SoftwareIdentity') throw malformed('root element is not swid:SoftwareIdentity');
  const metas = childElements(root, 'Meta');
  const versions = metas.map((m) => m.getAttribute('colloquialVersion')).filter((v): v is string => !!v);
  if (versions.length !== 1) throw malformed(`expected one Meta@colloquialVersion, found ${versions.length}`);
  const payloads = childElements(root, 'Payload');
  if (payloads.length !== 1) throw malformed(`expected one Payload, found ${payloads.length}`);
  const measurements = childElements(payloads[0] as Element, 'Resource')
    .filter((r) => r.getAttribute('type') === 'Measurement')
    .map(parseResource);
  const seen = new Set<number>();
  for (const m of measurements) {
    if (seen.has(m.index)) throw malformed(`Resource index ${m.index} appears twice`);
    seen.add(m.index);
  }
  return { tagId: root.getAttribute('tagId') ?? '', colloquialVersion: versions[0] as string, measurements };
}

/**
 * Verifies a RIM document: XML-DSig with the KeyInfo signer, the KeyInfo chain to `rimRoot` at `at`,
 * then reads the signed golden values. Throws NvidiaError only.
 */
export function verifyRim(xml: string, rimRoot: ParsedCert, at: Date, label: string): VerifiedRim {
  try {
    const doc = parseXml(xml);
    const { certificates } = verifyEnvelopedSignature(doc);
    const window = verifyChain(certificates, rimRoot, at, 'rim');
    return { rim: readRim(doc.documentElement as Element), chain: certificates, window };
  } catch (err) {
    if (!(err instanceof NvidiaError)) throw asNvidiaError(err, 'RimMalformed', label);
    throw new NvidiaError(err.code, `${label}: ${err.message}`, err.detail ? { ...err.detail } : undefined);
  }
}
