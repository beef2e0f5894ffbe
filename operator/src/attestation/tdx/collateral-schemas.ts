// Shapes of Intel's signed TDX TCB Info (v3) and TD QE Identity (v2) JSON, validated strictly after the
// signature has been checked over the raw text.
import { z } from 'zod';

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`));
const isoDate = z.string().refine((s) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(s) && !Number.isNaN(Date.parse(s)), 'not an ISO date');

import { TCB_STATUSES, type TcbStatus } from '../../api/enums.ts';

export { TCB_STATUSES, type TcbStatus };
const TcbStatusSchema = z.enum(TCB_STATUSES);

const svn = z.int().min(0).max(255);
const Component = z.object({ svn, category: z.string().optional(), type: z.string().optional() });

const IsvsvnLevel = z.object({
  tcb: z.object({ isvsvn: z.int().min(0).max(65535) }),
  tcbDate: isoDate,
  tcbStatus: TcbStatusSchema,
  advisoryIDs: z.array(z.string()).optional(),
});
export type IsvsvnLevel = z.infer<typeof IsvsvnLevel>;

const TdxModule = z.object({ mrsigner: hex(48), attributes: hex(8), attributesMask: hex(8) });

export const TdxTcbInfoSchema = z.object({
  id: z.literal('TDX'),
  version: z.literal(3),
  issueDate: isoDate,
  nextUpdate: isoDate,
  fmspc: hex(6),
  pceId: hex(2),
  tcbType: z.int(),
  tcbEvaluationDataNumber: z.int().min(0),
  tdxModule: TdxModule,
  tdxModuleIdentities: z.array(TdxModule.extend({ id: z.string(), tcbLevels: z.array(IsvsvnLevel).min(1) })).optional(),
  tcbLevels: z
    .array(
      z.object({
        tcb: z.object({
          sgxtcbcomponents: z.array(Component).length(16),
          pcesvn: z.int().min(0).max(65535),
          tdxtcbcomponents: z.array(Component).length(16),
        }),
        tcbDate: isoDate,
        tcbStatus: TcbStatusSchema,
        advisoryIDs: z.array(z.string()).optional(),
      }),
    )
    .min(1),
});
export type TdxTcbInfo = z.infer<typeof TdxTcbInfoSchema>;

export const TdQeIdentitySchema = z.object({
  id: z.literal('TD_QE'),
  version: z.literal(2),
  issueDate: isoDate,
  nextUpdate: isoDate,
  tcbEvaluationDataNumber: z.int().min(0),
  miscselect: hex(4),
  miscselectMask: hex(4),
  attributes: hex(16),
  attributesMask: hex(16),
  mrsigner: hex(32),
  isvprodid: z.int().min(0).max(65535),
  tcbLevels: z.array(IsvsvnLevel).min(1),
});
export type TdQeIdentity = z.infer<typeof TdQeIdentitySchema>;

/** First error of a zod result as a short "path: message" phrase. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid';
}
