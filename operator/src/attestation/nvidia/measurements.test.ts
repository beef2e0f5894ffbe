// Golden-value comparison over the captured H100 report and its NVIDIA-signed driver and VBIOS RIMs.
import { describe, expect, it } from 'vitest';
import { H100_2023, failure } from '../../../test/fixtures/nvidia/support/fixtures.ts';
import { compareMeasurements } from './measurements.ts';
import { decodeOpaque, NVDEC_DISABLED, NVDEC_ENABLED } from './opaque.ts';
import type { Rim } from './rim.ts';
import { verifyRim } from './rim.ts';
import { loadTrustAnchors } from './roots.ts';
import { parseSpdmEvidence } from './spdm.ts';

const { rimRoot } = loadTrustAnchors();
const driver = verifyRim(H100_2023.driverRim, rimRoot, H100_2023.pinnedTime, 'driver RIM').rim;
const vbios = verifyRim(H100_2023.vbiosRim, rimRoot, H100_2023.pinnedTime, 'VBIOS RIM').rim;
const spdm = parseSpdmEvidence(H100_2023.report);
const blocks = spdm.response.blocks;
const nvdec = decodeOpaque(spdm.response.opaque).nvdec0Status;
const activeCount = [...driver.measurements, ...vbios.measurements].filter((m) => m.active).length;

describe('compareMeasurements (captured H100 report and RIMs)', () => {
  it('matches every active golden value; index 35 is skipped because the report says NVDEC0 is disabled', () => {
    expect(nvdec).toBe(NVDEC_DISABLED);
    expect(activeCount).toBe(33);
    expect(compareMeasurements(blocks, driver, vbios, nvdec)).toEqual({ matched: 32, skipped: [35], mismatches: [] });
  });

  it('compares index 35 when NVDEC0 is enabled (it is skipped for no other status)', () => {
    for (const status of [NVDEC_ENABLED, undefined, 0]) {
      const r = compareMeasurements(blocks, driver, vbios, status);
      expect(r.skipped).toEqual([]);
      expect(r.matched + r.mismatches.length).toBe(33);
    }
  });

  it('refuses RIMs that both claim an active index, naming the indices', () => {
    const claimed = driver.measurements.filter((m) => m.active && (m.index === 7 || m.index === 21));
    const greedy: Rim = { ...vbios, measurements: [...vbios.measurements, ...claimed] };
    const err = failure(() => compareMeasurements(blocks, driver, greedy, nvdec));
    expect([err.code, err.message]).toEqual(['RimIndexConflict', 'driver and VBIOS RIMs both define active measurement indices 7, 21']);
    expect(err.detail).toEqual({ indices: [7, 21] });
    // an inactive duplicate is no conflict
    const inactive: Rim = { ...vbios, measurements: [...vbios.measurements, ...claimed.map((m) => ({ ...m, active: false }))] };
    expect(compareMeasurements(blocks, driver, inactive, nvdec).mismatches).toEqual([]);
  });

  it('refuses RIMs with more active golden values than the report has blocks, and accepts exactly as many', () => {
    const active = new Set([...driver.measurements, ...vbios.measurements].filter((m) => m.active).map((m) => m.index + 1));
    const exact = blocks.filter((b) => active.has(b.index));
    expect(exact).toHaveLength(activeCount);
    expect(compareMeasurements(exact, driver, vbios, nvdec)).toEqual({ matched: 32, skipped: [35], mismatches: [] });
    const err = failure(() => compareMeasurements(exact.slice(1), driver, vbios, nvdec));
    expect([err.code, err.message]).toEqual(['RimMismatch', `RIMs define ${activeCount} active measurements but the report has ${activeCount - 1}`]);
  });

  it('reports a missing block, a size mismatch and a value mismatch by RIM index and source', () => {
    const changed = blocks
      .filter((b) => b.index !== 1) // RIM index 0 (VBIOS): missing
      .map((b) => (b.index === 8 ? { ...b, value: b.value.subarray(1) } : b)) // RIM index 7 (driver): size
      .map((b) => (b.index === 23 ? { ...b, value: b.value.map((x, i) => (i === 0 ? x ^ 1 : x)) } : b)); // RIM index 22: value
    expect(compareMeasurements(changed, driver, vbios, nvdec).mismatches).toEqual([
      { index: 7, source: 'driver', reason: 'size' },
      { index: 22, source: 'driver', reason: 'value' },
      { index: 0, source: 'vbios', reason: 'missing' },
    ]);
  });
});
