// Pinned NVIDIA trust anchors (nvtrust local_gpu_verifier certs/verifier_device_root.pem and
// verifier_RIM_root.pem). Byte-identical to the fixture copies; a test checks that.
import { parsePemChain, type ParsedCert } from './x509-chain.ts';

/** "NVIDIA Device Identity CA" (P-384, 2021-11-05 .. 9999-12-31): root of every GPU device certificate chain. */
export const NVIDIA_DEVICE_IDENTITY_ROOT_PEM = `
-----BEGIN CERTIFICATE-----
MIICCzCCAZCgAwIBAgIQLTZwscoQBBHB/sDoKgZbVDAKBggqhkjOPQQDAzA1MSIw
IAYDVQQDDBlOVklESUEgRGV2aWNlIElkZW50aXR5IENBMQ8wDQYDVQQKDAZOVklE
SUEwIBcNMjExMTA1MDAwMDAwWhgPOTk5OTEyMzEyMzU5NTlaMDUxIjAgBgNVBAMM
GU5WSURJQSBEZXZpY2UgSWRlbnRpdHkgQ0ExDzANBgNVBAoMBk5WSURJQTB2MBAG
ByqGSM49AgEGBSuBBAAiA2IABA5MFKM7+KViZljbQSlgfky/RRnEQScW9NDZF8SX
gAW96r6u/Ve8ZggtcYpPi2BS4VFu6KfEIrhN6FcHG7WP05W+oM+hxj7nyA1r1jkB
2Ry70YfThX3Ba1zOryOP+MJ9vaNjMGEwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8B
Af8EBAMCAQYwHQYDVR0OBBYEFFeF/4PyY8xlfWi3Olv0jUrL+0lfMB8GA1UdIwQY
MBaAFFeF/4PyY8xlfWi3Olv0jUrL+0lfMAoGCCqGSM49BAMDA2kAMGYCMQCPeFM3
TASsKQVaT+8S0sO9u97PVGCpE9d/I42IT7k3UUOLSR/qvJynVOD1vQKVXf0CMQC+
EY55WYoDBvs2wPAH1Gw4LbcwUN8QCff8bFmV4ZxjCRr4WXTLFHBKjbfneGSBWwA=
-----END CERTIFICATE-----`;

/** "NVIDIA CoRIM signing Root CA" (P-384, 2023-03-16 .. 2053-03-08): root of the RIM signing chains. */
export const NVIDIA_RIM_ROOT_PEM = `
-----BEGIN CERTIFICATE-----
MIICKTCCAbCgAwIBAgIQRdrjoA5QN73fh1N17LXicDAKBggqhkjOPQQDAzBFMQsw
CQYDVQQGEwJVUzEPMA0GA1UECgwGTlZJRElBMSUwIwYDVQQDDBxOVklESUEgQ29S
SU0gc2lnbmluZyBSb290IENBMCAXDTIzMDMxNjE1MzczNFoYDzIwNTMwMzA4MTUz
NzM0WjBFMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGTlZJRElBMSUwIwYDVQQDDBxO
VklESUEgQ29SSU0gc2lnbmluZyBSb290IENBMHYwEAYHKoZIzj0CAQYFK4EEACID
YgAEuECyi9vNM+Iw2lfUzyBldHAwaC1HF7TCgp12QcEyUTm3Tagxwr48d55+K2VI
lWYIDk7NlAIQdcV/Ff7euGLI+Qauj93HsSI4WX298PpW54RTgz9tC+Q684caR/BX
WEeZo2MwYTAdBgNVHQ4EFgQUpaXrOPK4ZDAk08DBskn594zeZjAwHwYDVR0jBBgw
FoAUpaXrOPK4ZDAk08DBskn594zeZjAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8B
Af8EBAMCAQYwCgYIKoZIzj0EAwMDZwAwZAIwHGDyscDP6ihHqRvZlI3eqZ4YkvjE
1duaN84tAHRVgxVMvNrp5Tnom3idHYGW/dskAjATvjIx6VzHm/4e2GiZAyZEIUBD
OKPzp5ei/A0iUZpdvngenDwV8Qa/wGdiTmJ7Bp4=
-----END CERTIFICATE-----`;

export interface NvidiaTrustAnchors {
  deviceRoot: ParsedCert;
  rimRoot: ParsedCert;
}

function single(pem: string, label: string): ParsedCert {
  const [cert, ...rest] = parsePemChain(pem.trim(), label);
  if (!cert || rest.length > 0) throw new Error(`${label} must hold exactly one certificate`);
  return cert;
}

/** Parses root PEMs (defaults: the pinned NVIDIA roots). */
export function loadTrustAnchors(pems?: { deviceRootPem?: string; rimRootPem?: string }): NvidiaTrustAnchors {
  return {
    deviceRoot: single(pems?.deviceRootPem ?? NVIDIA_DEVICE_IDENTITY_ROOT_PEM, 'device root'),
    rimRoot: single(pems?.rimRootPem ?? NVIDIA_RIM_ROOT_PEM, 'RIM root'),
  };
}
