// The strict shapes of TCB Info and QE Identity: ISO dates exactly as Intel writes them, and the first issue
// reported as "path: message".
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TDX_FIXTURES } from '../../../test/fixtures/tdx/fixtures.ts';
import { TdQeIdentitySchema, TdxTcbInfoSchema, firstIssue } from './collateral-schemas.ts';

const dir = join(TDX_FIXTURES, 'v4-b0c06f000000-phala', 'collateral-2025-06');
const tcbInfo = (JSON.parse(readFileSync(join(dir, 'tcb_info.json'), 'utf8')) as { tcbInfo: Record<string, unknown> }).tcbInfo;
const identity = (JSON.parse(readFileSync(join(dir, 'qe_identity.json'), 'utf8')) as { enclaveIdentity: Record<string, unknown> }).enclaveIdentity;
const issue = (edit: Partial<Record<string, unknown>>) => {
  const r = TdxTcbInfoSchema.safeParse({ ...tcbInfo, ...edit });
  return r.success ? 'ok' : firstIssue(r.error);
};

describe('collateral schemas', () => {
  it('accept the real TCB Info and QE Identity', () => {
    expect(TdxTcbInfoSchema.safeParse(tcbInfo).success).toBe(true);
    expect(TdQeIdentitySchema.safeParse(identity).success).toBe(true);
  });

  it('dates: UTC ISO 8601 with optional fractional seconds, nothing else', () => {
    for (const ok of ['2025-06-19T10:32:27Z', '2025-06-19T10:32:27.5Z', '2025-06-19T10:32:27.123Z']) expect([ok, issue({ issueDate: ok })]).toEqual([ok, 'ok']);
    for (const bad of ['2025-06-19 10:32:27Z', '+002025-06-19T10:32:27Z', '2025-06-19T10:32:27', '2025-06-19T10:32:27.Z', '2025-13-45T10:32:27Z', 'soon']) {
      expect([bad, issue({ issueDate: bad })]).toEqual([bad, 'issueDate: not an ISO date']);
    }
  });

  it('the first issue names its path, or (root)', () => {
    const levels = tcbInfo.tcbLevels as Record<string, unknown>[];
    expect(issue({ tcbLevels: [{ ...levels[0], tcbStatus: 'Fine' }] })).toMatch(/^tcbLevels\.0\.tcbStatus: /);
    const r = TdxTcbInfoSchema.safeParse('x');
    expect(r.success ? 'ok' : firstIssue(r.error)).toBe('(root): Invalid input: expected object, received string');
  });
});
