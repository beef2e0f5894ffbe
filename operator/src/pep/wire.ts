// The seed's cai-pep wire protocol (image/customize/files/cai-pep/src/main.rs), byte-compatible:
// one JSON request per UDS connection, the client half-closes, the server answers with one JSON object.
import { z } from 'zod';

export const MAX_REQUEST_BYTES = 1_048_576;

/** Fields the seed's serde struct requires; a request missing one is dropped without a response. */
export const SubmitParamsSchema = z.object({
  version: z.number(),
  run_id: z.string().max(1024),
  session_key: z.string().max(1024),
  agent_id: z.string().max(1024),
  tool_name: z.string().max(256),
  skill_id: z.string().max(1024),
  params: z.object({ command: z.string(), workdir: z.string().max(4096) }).loose(),
  request_context: z.unknown().optional(),
  security_profile_ref: z.unknown().optional(),
  issued_at_ms: z.number(),
});
export const RequestSchema = z.object({
  method: z.string().max(256),
  id: z.string().max(1024),
  params: SubmitParamsSchema,
});
export type SubmitRequest = z.infer<typeof RequestSchema>;

export type ErrorCode = 'POLICY_DENY' | 'BAD_REQUEST' | 'EXECUTION_FAILED';

export interface SuccessResult {
  status: 'ok';
  decision: 'allow';
  backend: string;
  sandbox_profile: string;
  stdout: string;
  stderr: string;
  exit_code: number;
  duration_ms: number;
  audit_id: string;
}

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  rule_id?: string;
  detail?: Record<string, unknown>;
  audit_id?: string;
}

export type Response = { id: string; result: SuccessResult } | { id: string; error: ErrorBody };

export function successResponse(id: string, r: SuccessResult): string {
  // Key order as the seed serialises it.
  const result: SuccessResult = {
    status: 'ok',
    decision: 'allow',
    backend: r.backend,
    sandbox_profile: r.sandbox_profile,
    stdout: r.stdout,
    stderr: r.stderr,
    exit_code: r.exit_code,
    duration_ms: r.duration_ms,
    audit_id: r.audit_id,
  };
  return JSON.stringify({ id, result });
}

export function errorResponse(id: string, e: ErrorBody): string {
  const error: ErrorBody = { code: e.code, message: e.message };
  if (e.rule_id !== undefined) error.rule_id = e.rule_id;
  if (e.detail !== undefined) error.detail = e.detail;
  if (e.audit_id !== undefined) error.audit_id = e.audit_id;
  return JSON.stringify({ id, error });
}
