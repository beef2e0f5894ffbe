import { describe, expect, it } from 'vitest';
import { BodyTooLargeError, readBodyBounded, readTextBounded } from './bounded-body.ts';

function streamOf(chunks: number[]): ReadableStream<Uint8Array> {
  let i = 0;
  let pulled = 0;
  return new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (i >= chunks.length) return ctrl.close();
      pulled++;
      ctrl.enqueue(new Uint8Array(chunks[i++]!).fill(0x61));
    },
    cancel() {
      i = chunks.length + pulled; // mark cancelled
    },
  });
}

describe('readBodyBounded', () => {
  it('returns a body at exactly the cap', async () => {
    const body = await readBodyBounded(new Response(streamOf([3, 4, 3])), 10);
    expect(body.byteLength).toBe(10);
  });

  it('refuses one byte over the cap without reading the rest', async () => {
    let reads = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        reads++;
        ctrl.enqueue(new Uint8Array(1024));
      },
    });
    await expect(readBodyBounded(new Response(stream), 4096)).rejects.toBeInstanceOf(BodyTooLargeError);
    expect(reads).toBeLessThanOrEqual(6);
  });

  it('refuses a declared Content-Length over the cap before reading', async () => {
    const res = new Response('x'.repeat(100), { headers: { 'content-length': '100' } });
    await expect(readBodyBounded(res, 99)).rejects.toThrow('exceeds 99 bytes');
  });

  it('does not trust a small Content-Length', async () => {
    const res = new Response(streamOf([50, 50]), { headers: { 'content-length': '1' } });
    await expect(readBodyBounded(res, 60)).rejects.toBeInstanceOf(BodyTooLargeError);
  });

  it('reads empty and text bodies', async () => {
    expect((await readBodyBounded(new Response(null), 1)).byteLength).toBe(0);
    expect(await readTextBounded(new Response('héllo'), 16)).toBe('héllo');
  });
});
