import { describe, expect, it } from 'vitest';
import { ProviderError } from '../provider.ts';
import { classifyError, kindForCode, redact, registerSecret } from './errors.ts';

describe('kindForCode', () => {
  it.each([
    ['Throttling', 'Retryable'],
    ['Throttling.User', 'Retryable'],
    ['Throttling.Api', 'Retryable'],
    ['OperationConflict', 'Retryable'],
    ['IdempotentProcessing', 'Retryable'],
    ['LastTokenProcessing', 'Retryable'],
    ['IncorrectInstanceStatus', 'Retryable'],
    ['IncorrectInstanceStatus.Initializing', 'Retryable'],
    ['ServiceUnavailable', 'Retryable'],
    ['InternalError', 'Retryable'],
    ['OperationDenied.NoStock', 'Capacity'],
    ['Zone.NotOnSale', 'Capacity'],
    ['InvalidResourceType.NotSupported', 'Capacity'],
    ['InvalidVSwitchId.IpNotEnough', 'Capacity'],
    ['QuotaExceed.ElasticQuota', 'Quota'],
    ['QuotaExceeded.ElasticQuota', 'Quota'],
    ['QuotaExceed.Spot', 'Quota'],
    ['InvalidAccessKeyId.NotFound', 'Auth'],
    ['SignatureDoesNotMatch', 'Auth'],
    ['Forbidden.RAM', 'Auth'],
    ['InvalidInstanceId.NotFound', 'NotFound'],
    ['InvalidInstanceType.NotSupported', 'InvalidSpec'],
    ['InvalidImageId.NotFound', 'InvalidSpec'],
    ['IdempotentParameterMismatch', 'InvalidSpec'],
    ['InvalidParameter', 'InvalidSpec'],
  ] as const)('%s -> %s', (code, kind) => {
    expect(kindForCode(code)).toBe(kind);
  });

  it('treats an unknown code with a 5xx status as Retryable and with a 4xx as InvalidSpec', () => {
    expect(kindForCode('SomethingNew', 502)).toBe('Retryable');
    expect(kindForCode('SomethingNew', 400)).toBe('InvalidSpec');
  });
});

describe('classifyError', () => {
  it('reads code, request id and message from an SDK ResponseError shape', () => {
    const sdkErr = Object.assign(new Error('QuotaExceed.ElasticQuota: code: 403, No quota request id: R-1'), {
      name: 'ClientError',
      code: 'QuotaExceed.ElasticQuota',
      statusCode: 403,
      requestId: 'R-1',
      data: { RequestId: 'R-1', Code: 'QuotaExceed.ElasticQuota', Message: 'No additional quota is available.' },
    });
    const e = classifyError(sdkErr, 'RunInstances');
    expect(e).toBeInstanceOf(ProviderError);
    expect(e).toMatchObject({ kind: 'Quota', code: 'QuotaExceed.ElasticQuota', requestId: 'R-1' });
    expect(e.message).toBe('RunInstances failed: No additional quota is available.');
  });

  it('maps connection resets and timeouts to Retryable NetworkError', () => {
    expect(classifyError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'X')).toMatchObject({ kind: 'Retryable', code: 'NetworkError' });
    expect(classifyError(Object.assign(new Error('x'), { name: 'RequestTimeoutError' }), 'X')).toMatchObject({ kind: 'Retryable', code: 'NetworkError' });
    expect(classifyError(new Error('fetch failed', { cause: { code: 'ECONNREFUSED' } }), 'X')).toMatchObject({ kind: 'Retryable', code: 'NetworkError' });
  });

  it('maps a credential-chain failure to Auth, and passes ProviderErrors through', () => {
    expect(classifyError(new Error('Unable to load credentials from any of the providers in the chain'), 'X')).toMatchObject({ kind: 'Auth', code: 'InvalidCredentials' });
    const pe = new ProviderError('Capacity', 'C', 'm');
    expect(classifyError(pe, 'X')).toBe(pe);
    expect(classifyError('a string', 'X')).toMatchObject({ kind: 'Retryable', code: 'UnknownError' });
  });

  it('redacts AccessKey IDs, registered secrets and signature fields from messages', () => {
    registerSecret('MyVerySecretValue123');
    const e = classifyError(
      { statusCode: 404, data: { Code: 'InvalidAccessKeyId.NotFound', Message: 'key LTAI5tAbcdefgh12345 secret MyVerySecretValue123 Signature=abcd' } },
      'DescribeInstances',
    );
    expect(e.message).not.toContain('LTAI5tAbcdefgh12345');
    expect(e.message).not.toContain('MyVerySecretValue123');
    expect(e.message).toContain('Signature=[REDACTED]');
    expect(redact('Credential=LTAIxxxxxxxxxxxx,SignedHeaders=host')).toBe('Credential=[REDACTED],SignedHeaders=host');
  });
});
