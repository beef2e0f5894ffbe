import { DOMImplementation, DOMParser, type Element } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { C14nUnsupportedError, canonicalizeDocument, canonicalizeSubtree } from './c14n.ts';

const parse = (xml: string) => new DOMParser().parseFromString(xml, 'text/xml');

describe('Canonical XML 1.1 (inclusive, without comments)', () => {
  it('sorts namespace declarations before attributes, attributes by (namespace URI, local name)', () => {
    const doc = parse('<a xmlns:b="u:b" z="1" b:y="2" a="3" xmlns="u:d"><!-- gone --><c/></a>');
    expect(canonicalizeDocument(doc)).toBe('<a xmlns="u:d" xmlns:b="u:b" a="3" z="1" b:y="2"><c></c></a>');
  });

  it('drops superfluous namespace declarations and keeps xmlns="" undeclarations', () => {
    expect(canonicalizeDocument(parse('<a xmlns="u:x" xmlns:p="u:p"><b xmlns="u:x" xmlns:p="u:p"/></a>'))).toBe(
      '<a xmlns="u:x" xmlns:p="u:p"><b></b></a>',
    );
    expect(canonicalizeDocument(parse('<a xmlns="u:x"><b xmlns=""/></a>'))).toBe('<a xmlns="u:x"><b xmlns=""></b></a>');
    expect(canonicalizeDocument(parse('<a><b xmlns=""/></a>'))).toBe('<a><b></b></a>');
  });

  it('escapes text and attribute values as the spec says and normalizes line ends', () => {
    const doc = parse('<a b="&quot;&lt;&#9;&#10;&#13;&amp;>">&lt;&amp;&gt;"\'&#13;\r\n<![CDATA[x<y]]></a>');
    expect(canonicalizeDocument(doc)).toBe('<a b="&quot;&lt;&#x9;&#xA;&#xD;&amp;>">&lt;&amp;&gt;"\'&#xD;\nx&lt;y</a>');
  });

  it('renders processing instructions around the root and drops the XML declaration', () => {
    expect(canonicalizeDocument(parse('<?xml version="1.0"?>\n<?pi a?><r/><?pi b?>'))).toBe('<?pi a?>\n<r></r>\n<?pi b?>');
  });

  it('leaves out the excluded (enveloped) subtree', () => {
    const doc = parse('<r><keep/><sig><x/></sig>\n</r>');
    const sig = doc.getElementsByTagName('sig').item(0) as Element;
    expect(canonicalizeDocument(doc, sig)).toBe('<r><keep></keep>\n</r>');
  });

  it('gives a document subset apex every namespace in scope and inherited xml:lang', () => {
    const doc = parse('<r xmlns="u:r" xmlns:p="u:p" xml:lang="en"><p:s b="1"><t/></p:s></r>');
    const s = doc.getElementsByTagNameNS('u:p', 's').item(0) as Element;
    expect(canonicalizeSubtree(s)).toBe('<p:s xmlns="u:r" xmlns:p="u:p" b="1" xml:lang="en"><t></t></p:s>');
  });

  it('refuses xml:base on an ancestor of a subset (the one 1.1 fix-up it does not implement)', () => {
    const doc = parse('<r xml:base="http://x/"><s/></r>');
    expect(() => canonicalizeSubtree(doc.getElementsByTagName('s').item(0) as Element)).toThrow(C14nUnsupportedError);
  });
});

describe('Canonical XML 1.1: the rules an RIM signature depends on', () => {
  const subset = (xml: string, ns: string, local: string): string => {
    const doc = parse(xml);
    return canonicalizeSubtree((ns ? doc.getElementsByTagNameNS(ns, local) : doc.getElementsByTagName(local)).item(0) as Element);
  };

  it('orders attributes by namespace URI (not prefix), then local name; namespace declarations by prefix', () => {
    const doc = parse('<a xmlns:z="u:a" xmlns:b="u:z" xmlns:m="u:m" b:x="1" z:x="2" z:w="3" y="4" x="5"/>');
    expect(canonicalizeDocument(doc)).toBe('<a xmlns:b="u:z" xmlns:m="u:m" xmlns:z="u:a" x="5" y="4" z:w="3" z:x="2" b:x="1"></a>');
  });

  it('drops a declaration of the xml prefix and keeps a redeclared prefix', () => {
    const doc = parse('<a xmlns:xml="http://www.w3.org/XML/1998/namespace" xmlns:p="u:1"><p:b xmlns:p="u:2"/></a>');
    expect(canonicalizeDocument(doc)).toBe('<a xmlns:p="u:1"><p:b xmlns:p="u:2"></p:b></a>');
  });

  it('renders processing instructions inside elements, with and without data, and drops comments outside the root', () => {
    expect(canonicalizeDocument(parse('<!--c--><r><?a?><?b  x y?><!--c--></r><!--c-->'))).toBe('<r><?a?><?b x y?></r>');
  });

  it('refuses a document without a root element', () => {
    const doc = new DOMImplementation().createDocument(null, '');
    expect(() => canonicalizeDocument(doc)).toThrow(new C14nUnsupportedError('document has no root element'));
  });

  it('gives a subset apex the nearest xml:lang and xml:space of its ancestors, but not its own override or other xml: attributes', () => {
    const xml = '<r xml:lang="en" xml:space="default"><m xml:lang="de" xml:id="i"><s/><t xml:lang="fr"/></m></r>';
    expect(subset(xml, '', 's')).toBe('<s xml:lang="de" xml:space="default"></s>');
    expect(subset(xml, '', 't')).toBe('<t xml:lang="fr" xml:space="default"></t>');
    expect(subset('<r><s/></r>', '', 's')).toBe('<s></s>');
    expect(subset('<r xml:id="x"><s/></r>', '', 's')).toBe('<s></s>');
  });

  it('renders the document element as a subset with only its own declarations', () => {
    expect(subset('<r xmlns="u:r" a="1"><s/></r>', 'u:r', 'r')).toBe('<r xmlns="u:r" a="1"><s></s></r>');
    // A subset apex below a default-namespace undeclaration declares nothing for the default namespace.
    expect(subset('<r xmlns="u:r"><q xmlns=""><s/></q></r>', '', 's')).toBe('<s></s>');
  });

  it('inherits only attributes in the XML namespace, and lets an apex attribute in another namespace not stop it', () => {
    // Plain `lang`, `space` and `base` attributes are not xml:lang/xml:space/xml:base.
    expect(subset('<r lang="en" space="preserve" base="x"><s/></r>', '', 's')).toBe('<s></s>');
    expect(subset('<r xml:lang="en"><s lang="x"/></r>', '', 's')).toBe('<s lang="x" xml:lang="en"></s>');
  });

  it('puts attributes without a namespace before namespaced ones, whatever the namespace URI', () => {
    const doc = parse('<a xmlns:p="A:first" p:x="1" y="2"/>');
    expect(canonicalizeDocument(doc)).toBe('<a xmlns:p="A:first" y="2" p:x="1"></a>');
  });

  it('refuses xml:base on any ancestor of a subset, naming it', () => {
    const doc = parse('<r xml:base="http://x/"><m><s/></m></r>');
    let err: unknown;
    try {
      canonicalizeSubtree(doc.getElementsByTagName('s').item(0) as Element);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(C14nUnsupportedError);
    expect(err).toMatchObject({ name: 'C14nUnsupportedError', message: 'xml:base on an ancestor of a document subset is not supported' });
  });
});
