// Canonical XML 1.1 (https://www.w3.org/TR/xml-c14n11/), inclusive, without comments, for the two
// node-sets an enveloped XMLDSig over `URI=""` needs: the whole document minus the Signature element,
// and the SignedInfo subtree (which inherits the namespaces in scope at its position).
// Why our own: xml-crypto has no C14N 1.1 (nor ECDSA/SHA-384); xmldsigjs only maps the 1.1 URI onto
// its 1.0 transform. The rules below are short, and every difference between 1.0 and 1.1 (xml:id,
// xml:base fix-up, xml:lang/xml:space inheritance into subsets) is handled or refused explicitly.
import type { Attr, Document, Element, Node } from '@xmldom/xmldom';

const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const ELEMENT = 1;
const TEXT = 3;
const CDATA = 4;
const PI = 7;
const COMMENT = 8;

export class C14nUnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'C14nUnsupportedError';
  }
}

function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#xD;');
}

function escapeAttr(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#x9;')
    .replace(/\n/g, '&#xA;')
    .replace(/\r/g, '&#xD;');
}

function attributesOf(el: Element): Attr[] {
  const out: Attr[] = [];
  for (let i = 0; i < el.attributes.length; i++) {
    const a = el.attributes.item(i);
    if (a) out.push(a);
  }
  return out;
}

/** Namespace declarations of one element: prefix ('' = default) → URI. */
function declarations(el: Element): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of attributesOf(el)) {
    if (a.namespaceURI !== XMLNS_NS) continue;
    const prefix = a.prefix === 'xmlns' ? (a.localName ?? '') : '';
    if (prefix !== 'xml') out.set(prefix, a.value);
  }
  return out;
}

/** Namespaces in scope at `el` (inclusive of its own declarations), nearest declaration wins. */
function inScope(el: Element): Map<string, string> {
  const chain: Element[] = [];
  for (let n: Node | null = el; n && n.nodeType === ELEMENT; n = n.parentNode) chain.unshift(n as Element);
  const scope = new Map<string, string>();
  for (const e of chain) for (const [p, u] of declarations(e)) scope.set(p, u);
  return scope;
}

/** xml:lang / xml:space that a document-subset apex inherits from its ancestors (C14N 1.1 §2.4). */
function inheritedXmlAttrs(apex: Element): Map<string, string> {
  const out = new Map<string, string>();
  for (let n = apex.parentNode; n && n.nodeType === ELEMENT; n = n.parentNode) {
    for (const a of attributesOf(n as Element)) {
      if (a.namespaceURI !== XML_NS) continue;
      if (a.localName === 'base') throw new C14nUnsupportedError('xml:base on an ancestor of a document subset is not supported');
      if ((a.localName === 'lang' || a.localName === 'space') && !out.has(a.localName)) out.set(a.localName, a.value);
    }
  }
  return out;
}

interface RenderAttr {
  ns: string;
  local: string;
  qname: string;
  value: string;
}

function byNsThenLocal(a: RenderAttr, b: RenderAttr): number {
  if (a.ns !== b.ns) return a.ns < b.ns ? -1 : 1;
  return a.local < b.local ? -1 : a.local > b.local ? 1 : 0;
}

/**
 * Renders `el`. `parentScope` is the namespace context of the parent; `rendered` is what output
 * ancestors already declared (equal to `parentScope` except at a subset apex, where it is empty).
 */
function renderElement(
  el: Element,
  parentScope: Map<string, string>,
  rendered: Map<string, string>,
  exclude: Node | undefined,
  out: string[],
  inheritedXml?: Map<string, string>,
): void {
  const scope = new Map(parentScope);
  for (const [p, u] of declarations(el)) scope.set(p, u);
  const nsOut: [string, string][] = [];
  for (const [prefix, uri] of scope) {
    const before = rendered.get(prefix);
    if (prefix === '' ? (before ?? '') !== uri : before !== uri) nsOut.push([prefix, uri]);
  }
  nsOut.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  out.push('<', el.tagName);
  for (const [prefix, uri] of nsOut) out.push(prefix === '' ? ' xmlns="' : ` xmlns:${prefix}="`, escapeAttr(uri), '"');
  const attrs: RenderAttr[] = attributesOf(el)
    .filter((a) => a.namespaceURI !== XMLNS_NS)
    .map((a) => ({ ns: a.namespaceURI ?? '', local: a.localName ?? a.name, qname: a.name, value: a.value }));
  for (const [local, value] of inheritedXml ?? []) {
    if (!attrs.some((a) => a.ns === XML_NS && a.local === local)) attrs.push({ ns: XML_NS, local, qname: `xml:${local}`, value });
  }
  for (const a of attrs.sort(byNsThenLocal)) out.push(' ', a.qname, '="', escapeAttr(a.value), '"');
  out.push('>');
  for (let c = el.firstChild; c; c = c.nextSibling) {
    if (c === exclude) continue;
    if (c.nodeType === ELEMENT) renderElement(c as Element, scope, scope, exclude, out);
    else if (c.nodeType === TEXT || c.nodeType === CDATA) out.push(escapeText(c.nodeValue ?? ''));
    else if (c.nodeType === PI) out.push(renderPi(c));
    else if (c.nodeType !== COMMENT) throw new C14nUnsupportedError(`unsupported node type ${c.nodeType} in element content`);
  }
  out.push('</', el.tagName, '>');
}

function renderPi(pi: Node): string {
  const data = pi.nodeValue ?? '';
  return `<?${pi.nodeName}${data ? ` ${data}` : ''}?>`;
}

/** Canonical form of the whole document, leaving out `exclude` (the enveloped Signature) and its subtree. */
export function canonicalizeDocument(doc: Document, exclude?: Node): string {
  const root = doc.documentElement;
  if (!root) throw new C14nUnsupportedError('document has no root element');
  const out: string[] = [];
  let seenRoot = false;
  for (let c = doc.firstChild; c; c = c.nextSibling) {
    if (c === root) {
      renderElement(root, new Map(), new Map(), exclude, out);
      seenRoot = true;
    } else if (c.nodeType === PI && c.nodeName !== 'xml') {
      out.push(seenRoot ? '\n' : '', renderPi(c), seenRoot ? '' : '\n');
    }
  }
  return out.join('');
}

/** Canonical form of the subtree rooted at `apex` as a document subset (e.g. ds:SignedInfo). */
export function canonicalizeSubtree(apex: Element): string {
  const parent = apex.parentNode;
  const parentScope = parent && parent.nodeType === ELEMENT ? inScope(parent as Element) : new Map<string, string>();
  const out: string[] = [];
  renderElement(apex, parentScope, new Map(), undefined, out, inheritedXmlAttrs(apex));
  return out.join('');
}
