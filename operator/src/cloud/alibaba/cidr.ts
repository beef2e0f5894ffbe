// IPv4 CIDR validation for security-group sources: a clear error for anything malformed, and a
// refusal of "the whole Internet" unless the caller asked for it explicitly.
import { ProviderError } from '../provider.ts';

const CIDR4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Returns the normalised CIDR or throws ProviderError('InvalidSpec') naming the field. */
export function checkCidr(field: string, cidr: string, allowAnywhere: boolean): string {
  const m = CIDR4.exec(cidr.trim());
  if (!m) throw new ProviderError('InvalidSpec', 'InvalidParameter', `${field}: "${cidr}" is not an IPv4 CIDR like 10.0.0.0/16`);
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) throw new ProviderError('InvalidSpec', 'InvalidParameter', `${field}: "${cidr}" has an octet > 255 or a prefix > 32`);
  if (prefix === 0 && !allowAnywhere) {
    throw new ProviderError('InvalidSpec', 'InvalidParameter', `${field}: "${cidr}" opens the port to the whole Internet; pass allowAnywhere to do that on purpose`);
  }
  return `${octets.join('.')}/${prefix}`;
}
