// Structured JSON logs (pino) with a redaction list: credentials never reach a log line even when an
// object carrying them is logged by mistake.

import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

const SECRET_KEYS = [
  'password',
  'passphrase',
  'token',
  'bearerToken',
  'accessToken',
  'refreshToken',
  'idToken',
  'secret',
  'clientSecret',
  'accessKeySecret',
  'securityToken',
  'sessionToken',
  'authorization',
  'Authorization',
  'cookie',
  'privateKey',
  'keyData',
  'plaintext',
];

/** pino redact paths: each secret key at the top level and nested up to three levels. */
export const REDACT_PATHS: string[] = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]).concat([
  'headers["x-acs-security-token"]',
  '*.headers["x-acs-security-token"]',
]);

export interface LoggerFactoryOptions {
  level?: string;
  name?: string;
  base?: Record<string, unknown>;
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerFactoryOptions = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? process.env['LOG_LEVEL'] ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    base: { ...(opts.name ? { name: opts.name } : {}), ...opts.base },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
