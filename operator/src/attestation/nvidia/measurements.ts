// Runtime measurements vs RIM golden values (nvtrust verifier.py / NVAT LocalGpuVerifier rules):
// every active golden index i must have runtime block i+1 equal to one of its alternatives with the
// same size; driver and VBIOS RIMs may not both claim an index; index 35 is skipped when NVDEC0 is off.
import { bytesEqual } from './bytes.ts';
import { NvidiaError } from './errors.ts';
import { NVDEC_DISABLED } from './opaque.ts';
import type { GoldenMeasurement, Rim } from './rim.ts';
import type { MeasurementBlock } from './spdm.ts';

const NVDEC_MEASUREMENT_INDEX = 35;

export interface MeasurementMismatch {
  /** RIM index (0-based). */
  index: number;
  source: 'driver' | 'vbios';
  reason: 'missing' | 'size' | 'value';
}

export interface MeasurementComparison {
  matched: number;
  /** Active golden indices not compared (index 35 while NVDEC0 is disabled). */
  skipped: number[];
  mismatches: MeasurementMismatch[];
}

export function compareMeasurements(
  blocks: MeasurementBlock[],
  driver: Rim,
  vbios: Rim,
  nvdec0Status: number | undefined,
): MeasurementComparison {
  const activeDriver = driver.measurements.filter((m) => m.active);
  const activeVbios = vbios.measurements.filter((m) => m.active);
  const driverIdx = new Set(activeDriver.map((m) => m.index));
  const conflicts = activeVbios.filter((m) => driverIdx.has(m.index)).map((m) => m.index);
  if (conflicts.length > 0) {
    throw new NvidiaError('RimIndexConflict', `driver and VBIOS RIMs both define active measurement indices ${conflicts.join(', ')}`, {
      indices: conflicts,
    });
  }
  if (activeDriver.length + activeVbios.length > blocks.length) {
    throw new NvidiaError('RimMismatch', `RIMs define ${activeDriver.length + activeVbios.length} active measurements but the report has ${blocks.length}`);
  }
  const runtime = new Map(blocks.map((b) => [b.index, b.value]));
  const mismatches: MeasurementMismatch[] = [];
  let matched = 0;
  const skipped: number[] = [];
  const check = (golden: GoldenMeasurement, source: 'driver' | 'vbios'): void => {
    if (golden.index === NVDEC_MEASUREMENT_INDEX && nvdec0Status === NVDEC_DISABLED) {
      skipped.push(golden.index);
      return;
    }
    const value = runtime.get(golden.index + 1);
    if (!value) mismatches.push({ index: golden.index, source, reason: 'missing' });
    else if (value.length !== golden.size) mismatches.push({ index: golden.index, source, reason: 'size' });
    else if (!golden.alternatives.some((alt) => alt.length === golden.size && bytesEqual(alt, value))) {
      mismatches.push({ index: golden.index, source, reason: 'value' });
    } else matched++;
  };
  for (const g of activeDriver) check(g, 'driver');
  for (const g of activeVbios) check(g, 'vbios');
  return { matched, skipped, mismatches };
}
