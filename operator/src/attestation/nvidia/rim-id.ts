// RIM identifiers as NVIDIA's RIM service names them (nvtrust / NVAT conventions).
import type { GpuOpaqueInfo } from './opaque.ts';

export type GpuArch = 'HOPPER' | 'BLACKWELL';

/** Driver RIM: `NV_GPU_DRIVER_GH100_<ver>` on Hopper, `NV_GPU_CC_DRIVER_GB100_<ver>` on Blackwell. */
export function driverRimId(arch: GpuArch, driverVersion: string): string {
  return arch === 'HOPPER' ? `NV_GPU_DRIVER_GH100_${driverVersion}` : `NV_GPU_CC_DRIVER_GB100_${driverVersion}`;
}

/** VBIOS RIM: `NV_GPU_VBIOS_<project>_<projectSku>_<chipSku>_<version without dots, upper case>`. */
export function vbiosRimId(info: GpuOpaqueInfo): string {
  const version = info.vbiosVersion.replace(/\./g, '').toUpperCase();
  return `NV_GPU_VBIOS_${info.project}_${info.projectSku}_${info.chipSku}_${version}`;
}

/** RIM ids are used as file names and URL path segments: only this alphabet is accepted. */
export function isSafeRimId(id: string): boolean {
  return /^[A-Za-z0-9_.-]{1,128}$/.test(id) && !id.includes('..');
}
