import { DOMParser, type Element } from '@xmldom/xmldom';
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
