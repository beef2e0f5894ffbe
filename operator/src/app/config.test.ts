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
  ])('rejects %j with a message naming the flag', (args, message) => {
    expect(() => parseOperatorConfig(args, {})).toThrow(ConfigError);
    expect(() => parseOperatorConfig(args, {})).toThrow(message);
  });
});
