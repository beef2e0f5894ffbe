// How a TDX verifier call failed, for assertions on the code and the message that names the check. Anything
// other than a TdxError is a bug in the verifier and is rethrown (or named), never compared as a refusal.
import { TdxError } from '../../src/attestation/tdx/errors.ts';

/** `{ code, message }` of the TdxError `fn` throws, or 'ok'. */
export function tdxFailure(fn: () => unknown): { code: string; message: string } | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (!(err instanceof TdxError)) throw err;
    return { code: err.code, message: err.message };
  }
}

/** `code: message` of the TdxError `fn` throws, 'no error', or what else it threw. */
export function tdxFailureText(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof TdxError ? `${err.code}: ${err.message}` : `not a TdxError: ${String(err)}`;
  }
  return 'no error';
}
