// An ECS API error as the real service returns it: HTTP status + `{ RequestId, Code, Message }`.
export class EcsApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'EcsApiError';
    this.status = status;
    this.code = code;
  }
}

export const missing = (name: string): EcsApiError =>
  new EcsApiError(400, 'MissingParameter', `The input parameter "${name}" that is mandatory for processing this request is not supplied.`);

export const invalidParam = (name: string, why: string): EcsApiError =>
  new EcsApiError(400, 'InvalidParameter', `The specified parameter "${name}" is not valid: ${why}`);
