// Reads an HTTP response body with a hard byte cap, streaming: a hostile peer (guest, PCCS, Rekor, RIM or
// OCSP service) cannot make the operator buffer more than `maxBytes`, whatever Content-Length says.
// A leaf module: anything may import it; it imports nothing of the project.

export class BodyTooLargeError extends Error {
  readonly code = 'BodyTooLarge';
  readonly maxBytes: number;
  constructor(maxBytes: number) {
    super(`response body exceeds ${maxBytes} bytes`);
    this.name = 'BodyTooLargeError';
    this.maxBytes = maxBytes;
  }
}

/** The body as bytes, or BodyTooLargeError as soon as more than `maxBytes` arrive (the stream is cancelled). */
export async function readBodyBounded(res: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new BodyTooLargeError(maxBytes);
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLargeError(maxBytes);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The body as UTF-8 text (invalid sequences replaced), capped like readBodyBounded. */
export async function readTextBounded(res: Response, maxBytes: number): Promise<string> {
  return new TextDecoder().decode(await readBodyBounded(res, maxBytes));
}
