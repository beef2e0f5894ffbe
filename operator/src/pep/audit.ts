// Audit: one JSON line per decision (allow, deny, bad request, execution failure). Ids are random
// UUIDs (the seed's were milliseconds and collided under concurrency). Never the command's output or
// environment; the command itself only as its first 120 characters.
import { randomUUID } from 'node:crypto';

export const AUDIT_COMMAND_CHARS = 120;

export type AuditEvent = 'pep_started' | 'intent_allow' | 'intent_check_allow' | 'intent_deny' | 'intent_error' | 'bad_request' | 'connection_error';

export interface AuditRecord {
  event: AuditEvent;
  audit_id?: string;
  ts?: string;
  [key: string]: unknown;
}

export type AuditSink = (line: string) => void;

export const newAuditId = (): string => `audit-${randomUUID()}`;

export function truncateCommand(cmd: string): string {
  const chars = [...cmd];
  return chars.length > AUDIT_COMMAND_CHARS ? `${chars.slice(0, AUDIT_COMMAND_CHARS).join('')}…` : cmd;
}

export class Auditor {
  private readonly sink: AuditSink;
  private readonly now: () => Date;
  constructor(sink: AuditSink, now: () => Date = () => new Date()) {
    this.sink = sink;
    this.now = now;
  }
  write(rec: AuditRecord): void {
    this.sink(`${JSON.stringify({ ts: this.now().toISOString(), ...rec })}\n`);
  }
}
