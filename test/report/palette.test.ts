/**
 * The palette's rules (src/report/plots/palette.ts) and the compare figure's layer labels, as plain
 * functions; test/report/figures.test.ts checks the same rules on the rendered figures.
 */
import { describe, it, expect } from 'vitest';
import {
  MIN_DELTA_E,
  SERIES_COLORS,
  STATUS_COLORS,
  deltaE2000,
  deuteranopeDeltaE,
  hexToRgb,
  rgbToLab,
  seriesColor,
  seriesDash,
  simulateDeuteranopia,
} from '../../src/report/plots/palette.js';
import { shortLayerNames, SHORT_NAME_LENGTH } from '../../src/report/plots/compare.js';

describe('palette', () => {
  it('CIEDE2000 matches the published test pairs (Sharma et al. 2005)', () => {
    expect(deltaE2000([50, 2.6772, -79.7751], [50, 0, -82.7485])).toBeCloseTo(2.0425, 3);
    expect(deltaE2000([50, -1.3802, -84.2814], [50, 0, -82.7485])).toBeCloseTo(1.0, 3);
    expect(deltaE2000([50, 2.5, 0], [73, 25, -18])).toBeCloseTo(27.1492, 3);
    expect(rgbToLab([255, 255, 255])[0]).toBeCloseTo(100, 1);
  });

  it('deuteranopia maps red and green close together, and leaves grey grey', () => {
    expect(deuteranopeDeltaE(hexToRgb('#d62728'), hexToRgb('#2ca02c'))).toBeLessThan(MIN_DELTA_E); // the old esd-random pair
    const g = simulateDeuteranopia([128, 128, 128]);
    for (const c of g) expect(c).toBeCloseTo(128, 0);
  });

  it(`series colours stay ≥ ${MIN_DELTA_E} apart for a deuteranope, and apart from the status colours`, () => {
    for (let i = 0; i < SERIES_COLORS.length; i++)
      for (let j = i + 1; j < SERIES_COLORS.length; j++)
        expect(deuteranopeDeltaE(hexToRgb(SERIES_COLORS[i]!), hexToRgb(SERIES_COLORS[j]!))).toBeGreaterThanOrEqual(MIN_DELTA_E);
    const s = [STATUS_COLORS.over, STATUS_COLORS.ok, STATUS_COLORS.under];
    for (let i = 0; i < s.length; i++)
      for (let j = i + 1; j < s.length; j++)
        expect(deuteranopeDeltaE(hexToRgb(s[i]!), hexToRgb(s[j]!))).toBeGreaterThanOrEqual(MIN_DELTA_E);
  });

  it('no two of the first 20 series share colour and dash', () => {
    const keys = Array.from({ length: 20 }, (_, i) => `${seriesColor(i)} ${seriesDash(i).join(',')}`);
    expect(new Set(keys).size).toBe(20);
  });
});

describe('short layer names under the Δα bars', () => {
  it('drop the shared prefix and keep the end of long names; stay distinct', () => {
    expect(shortLayerNames(['model.layers.0.self_attn.q_proj', 'model.layers.0.mlp.down_proj', 'model.layers.11.mlp.down_proj'])).toEqual([
      '0.self_attn.q_proj',
      '0.mlp.down_proj',
      '11.mlp.down_proj',
    ]);
    const long = shortLayerNames(['a.encoder.block.0.layer.1.DenseReluDense.wi', 'b.x']);
    expect(long[0]!.length).toBe(SHORT_NAME_LENGTH);
    expect(long[0]!.startsWith('…')).toBe(true);
    expect(long[0]!.endsWith('DenseReluDense.wi')).toBe(true);
    const clash = shortLayerNames(['x.aaaaaaaaaaaaaaaaaaaaaaaaaa.q', 'y.aaaaaaaaaaaaaaaaaaaaaaaaaa.q']);
    expect(new Set(clash).size).toBe(2);
    expect(shortLayerNames(['wte'])).toEqual(['wte']);
  });
});
