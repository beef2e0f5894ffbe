import { describe, expect, it } from 'vitest';
import { ConfigError, parseOperatorConfig } from './config.ts';

describe('parseOperatorConfig', () => {
  it('has safe defaults: the alibaba provider only (never the simulated local one), leader election on, metrics 8080, KBS 8081', () => {
    const c = parseOperatorConfig([], {});
    expect(c.providers).not.toContain('local');
    expect(c).toMatchObject({ providers: ['alibaba'], leaderElect: true, httpPort: 8080, kbsPort: 8081, workers: 4, operatorNamespace: 'confidential-agent-system', gcMinAgeSeconds: 30 });
    expect(c.watchNamespace).toBeUndefined();
    expect(c.nvidiaRimDir).toBeUndefined();
  });
  it('--instance-recheck: unset means the per-provider default; a value must be 1-86400 seconds', () => {
    expect(parseOperatorConfig([], {}).instanceRecheckSeconds).toBeUndefined();
    expect(parseOperatorConfig(['--instance-recheck', '10'], {}).instanceRecheckSeconds).toBe(10);
    expect(() => parseOperatorConfig(['--instance-recheck', '0'], {})).toThrow(ConfigError);
    expect(() => parseOperatorConfig(['--instance-recheck', 'soon'], {})).toThrow(/instance-recheck/);
  });
  it('takes flags over the environment', () => {
    const c = parseOperatorConfig(['--operator-namespace', 'ops', '--providers', 'local,alibaba', '--nvidia-rim-dir', '/rims'], { POD_NAMESPACE: 'env-ns', CAI_PROVIDERS: 'local', LOG_LEVEL: 'debug' });
    expect(c).toMatchObject({ operatorNamespace: 'ops', providers: ['local', 'alibaba'], nvidiaRimDir: '/rims', logLevel: 'debug' });
    expect(parseOperatorConfig([], { POD_NAMESPACE: 'env-ns' }).operatorNamespace).toBe('env-ns');
  });
  it('enables the simulated local provider only when asked for (flag or CAI_PROVIDERS)', () => {
    expect(parseOperatorConfig(['--providers', 'local'], {}).providers).toEqual(['local']);
    expect(parseOperatorConfig([], { CAI_PROVIDERS: 'alibaba,local' }).providers).toEqual(['alibaba', 'local']);
    expect(parseOperatorConfig(['--providers', 'alibaba'], { CAI_PROVIDERS: 'local' }).providers).toEqual(['alibaba']);
  });
  it('KBS TLS: a generated development CA by default, files when given (reload every 10 s), plain HTTP only on request', () => {
    expect(parseOperatorConfig([], {})).toMatchObject({ kbsTls: { mode: 'generated' }, kbsEmbedded: true });
    expect(parseOperatorConfig(['--kbs-tls-cert', '/tls/tls.crt', '--kbs-tls-key', '/tls/tls.key', '--kbs-tls-ca', '/tls/ca.crt'], {}).kbsTls).toEqual({
      mode: 'files',
      certFile: '/tls/tls.crt',
      keyFile: '/tls/tls.key',
      caFile: '/tls/ca.crt',
      reloadIntervalMs: 10_000,
    });
    expect(parseOperatorConfig(['--kbs-tls', 'false'], {}).kbsTls).toEqual({ mode: 'http' });
    expect(parseOperatorConfig(['--kbs-embedded', 'false', '--kbs-public-url', 'https://kbs.cai-system:8081', '--kbs-tls-ca', '/ca.pem'], {})).toMatchObject({
      kbsEmbedded: false,
      kbsTls: { mode: 'generated', caFile: '/ca.pem' },
    });
  });
  it('allows only the public-good Rekor and Intel PCS by default; the flags replace the lists', () => {
    const d = parseOperatorConfig([], {});
    expect(d.allowedRekorUrls).toEqual(['https://rekor.sigstore.dev/']);
    expect(d.allowedPccsUrls).toEqual(['https://api.trustedservices.intel.com/']);
    const c = parseOperatorConfig(['--allowed-rekor-urls', 'https://rekor.internal:8443/v1 , https://rekor.sigstore.dev', '--allowed-pccs-urls', ''], {});
    expect(c.allowedRekorUrls).toEqual(['https://rekor.internal:8443/v1/', 'https://rekor.sigstore.dev/']);
    expect(c.allowedPccsUrls).toEqual([]);
  });
  it('serves the attestation service on :8082 by default; --as-bind-address, --as-public-url, --as-tls-hosts and opting out', () => {
    expect(parseOperatorConfig([], {}).attestationService).toEqual({ host: '0.0.0.0', port: 8082, tlsHosts: [] });
    expect(parseOperatorConfig(['--as-bind-address', '127.0.0.1:0', '--as-public-url', 'https://as.cai:8443', '--as-tls-hosts', 'as.cai, 10.0.0.5'], {}).attestationService).toEqual({
      host: '127.0.0.1',
      port: 0,
      publicUrl: 'https://as.cai:8443',
      tlsHosts: ['as.cai', '10.0.0.5'],
    });
    expect(parseOperatorConfig(['--as-bind-address', '[::1]:9000'], {}).attestationService).toMatchObject({ host: '::1', port: 9000 });
    expect(parseOperatorConfig(['--attestation-service', 'false'], {}).attestationService).toBeUndefined();
  });
  it.each([
    [['--providers', 'local,gcp'], "unknown provider 'gcp'"],
    [['--providers', ','], '--providers must name at least one provider'],
    [['--kbs-port', '70000'], '--kbs-port must be an integer between 0 and 65535'],
    [['--workers', '0'], '--workers must be an integer between 1 and 64'],
    [['--workers', '2.5'], '--workers must be an integer'],
    [['--leader-elect', 'yes'], '--leader-elect must be true or false'],
    [['--alibaba-protocol', 'ftp'], '--alibaba-protocol must be http or https'],
    [['--no-such-flag'], "Unknown option '--no-such-flag'"],
    [['positional'], 'positional'],
    [['--kbs-tls-cert', '/c.pem'], '--kbs-tls-cert and --kbs-tls-key go together'],
    [['--kbs-tls-key', '/k.pem'], '--kbs-tls-cert and --kbs-tls-key go together'],
    [['--kbs-tls', 'false', '--kbs-tls-cert', '/c.pem', '--kbs-tls-key', '/k.pem'], '--kbs-tls=false cannot be combined'],
    [['--kbs-tls', 'off'], '--kbs-tls must be true or false'],
    [['--kbs-tls-reload-interval', '0'], '--kbs-tls-reload-interval must be an integer between 1 and 3600'],
    [['--kbs-public-url', 'kbs.example:8081'], '--kbs-public-url must be an http(s) URL'],
    [['--kbs-public-url', 'not a url'], '--kbs-public-url must be an absolute http(s) URL'],
    [['--kbs-embedded', 'false'], '--kbs-embedded=false needs --kbs-public-url'],
    [['--kbs-embedded', 'false', '--kbs-public-url', 'https://kbs:8081'], '--kbs-embedded=false needs --kbs-tls-ca'],
    [['--allowed-rekor-urls', 'https://rekor.sigstore.dev,ftp://x'], "--allowed-rekor-urls: 'ftp://x' must be http(s)"],
    [['--allowed-pccs-urls', 'https://u:p@pccs.example'], '--allowed-pccs-urls'],
    [['--as-bind-address', '8082'], '--as-bind-address must be HOST:PORT'],
    [['--as-bind-address', ':99999'], '--as-bind-address must be an integer between 0 and 65535'],
    [['--as-public-url', 'http://as.example:8082'], '--as-public-url must be https'],
    [['--attestation-service', 'maybe'], '--attestation-service must be true or false'],
  ])('rejects %j with a message naming the flag', (args, message) => {
    expect(() => parseOperatorConfig(args, {})).toThrow(ConfigError);
    expect(() => parseOperatorConfig(args, {})).toThrow(message);
  });
});
