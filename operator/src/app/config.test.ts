import { describe, expect, it } from 'vitest';
import { ConfigError, parseOperatorConfig } from './config.ts';

describe('parseOperatorConfig', () => {
  it('has safe defaults: local provider, leader election on, metrics 8080, KBS 8081', () => {
    const c = parseOperatorConfig([], {});
    expect(c).toMatchObject({ providers: ['local'], leaderElect: true, httpPort: 8080, kbsPort: 8081, workers: 4, operatorNamespace: 'confidential-agent-system', gcMinAgeSeconds: 30 });
    expect(c.watchNamespace).toBeUndefined();
    expect(c.nvidiaRimDir).toBeUndefined();
  });
  it('takes flags over the environment', () => {
    const c = parseOperatorConfig(['--operator-namespace', 'ops', '--providers', 'local,alibaba', '--nvidia-rim-dir', '/rims'], { POD_NAMESPACE: 'env-ns', CAI_PROVIDERS: 'local', LOG_LEVEL: 'debug' });
    expect(c).toMatchObject({ operatorNamespace: 'ops', providers: ['local', 'alibaba'], nvidiaRimDir: '/rims', logLevel: 'debug' });
    expect(parseOperatorConfig([], { POD_NAMESPACE: 'env-ns' }).operatorNamespace).toBe('env-ns');
  });
  it('allows only the public-good Rekor and Intel PCS by default; the flags replace the lists', () => {
    const d = parseOperatorConfig([], {});
    expect(d.allowedRekorUrls).toEqual(['https://rekor.sigstore.dev/']);
    expect(d.allowedPccsUrls).toEqual(['https://api.trustedservices.intel.com/']);
    const c = parseOperatorConfig(['--allowed-rekor-urls', 'https://rekor.internal:8443/v1 , https://rekor.sigstore.dev', '--allowed-pccs-urls', ''], {});
    expect(c.allowedRekorUrls).toEqual(['https://rekor.internal:8443/v1/', 'https://rekor.sigstore.dev/']);
    expect(c.allowedPccsUrls).toEqual([]);
  });
  it.each([
    [['--providers', 'local,gcp'], "unknown provider 'gcp'"],
    [['--kbs-port', '70000'], '--kbs-port must be an integer between 0 and 65535'],
    [['--workers', '0'], '--workers must be an integer between 1 and 64'],
    [['--workers', '2.5'], '--workers must be an integer'],
    [['--leader-elect', 'yes'], '--leader-elect must be true or false'],
    [['--alibaba-protocol', 'ftp'], '--alibaba-protocol must be http or https'],
    [['--no-such-flag'], "Unknown option '--no-such-flag'"],
    [['positional'], 'positional'],
    [['--allowed-rekor-urls', 'https://rekor.sigstore.dev,ftp://x'], "--allowed-rekor-urls: 'ftp://x' must be http(s)"],
    [['--allowed-pccs-urls', 'https://u:p@pccs.example'], '--allowed-pccs-urls'],
  ])('rejects %j with a message naming the flag', (args, message) => {
    expect(() => parseOperatorConfig(args, {})).toThrow(ConfigError);
    expect(() => parseOperatorConfig(args, {})).toThrow(message);
  });
});
