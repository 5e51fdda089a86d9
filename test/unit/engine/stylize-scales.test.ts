/**
 * The driver with a scale plan from its caller (StylizeContext.scales): it runs exactly those scales, not
 * the ones it would plan, and refuses a plan that cannot be the content's.
 */
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../../src/engine/index.js';
import { DEFAULT_STYLIZE_OPTIONS, type StylizeOptions } from '../../../src/engine/options.js';
import { planScales, type Scale } from '../../../src/engine/schedule.js';
import { type Progress, stylize } from '../../../src/engine/stylize.js';
import type { EngineChoice, EngineSpec, StyleEngine } from '../../../src/engine/types.js';
import { generateVggWeights } from '../../../src/engine/vgg.js';
import { photoLike } from '../../helpers/images.js';

const weights = generateVggWeights(5);
const content = photoLike(40, 32, 1);
const style = { image: photoLike(36, 36, 7), weight: 1 };
const options: StylizeOptions = {
  ...DEFAULT_STYLIZE_OPTIONS,
  size: 40,
  minSize: 20,
  scaleGrowth: Math.SQRT2,
  iterations: 30,
};

/** Real engines, recording the size of each one built. */
function recordingEngines() {
  const built: string[] = [];
  const create = async (choice: EngineChoice, spec: EngineSpec): Promise<StyleEngine> => {
    built.push(`${spec.width}x${spec.height}`);
    return createEngine(choice, spec);
  };
  return { built, createEngine: create };
}

describe('stylize with a given scale plan', () => {
  it('runs exactly the given scales, not the ones it would plan', async () => {
    // The options would plan 20x16, 28x22 and 40x32 at 30 iterations each.
    expect(planScales({ ...content, ...options }).map((s) => [s.width, s.iterations])).toEqual([
      [20, 30],
      [28, 30],
      [40, 30],
    ]);
    const scales: Scale[] = [
      { width: 20, height: 16, iterations: 2 },
      { width: 40, height: 32, iterations: 3 },
    ];
    const { built, createEngine } = recordingEngines();
    const progress: Progress[] = [];
    const result = await stylize({ content, styles: [style] }, options, {
      weights,
      scales,
      createEngine,
      onProgress: (p) => progress.push(p),
    });
    expect(built).toEqual(['20x16', '40x32']);
    expect(result.scales.map(({ width, height, iterations }) => ({ width, height, iterations }))).toEqual(
      scales,
    );
    expect(result.scales.map((s) => s.iterationsRun)).toEqual([2, 3]);
    expect(result.iterations).toBe(5);
    expect(progress.map((p) => [p.scaleIndex, p.scaleCount, p.total])).toEqual([
      ...Array(2).fill([0, 2, 5]),
      ...Array(3).fill([1, 2, 5]),
    ]);
    expect(result.image).toMatchObject({ width: 40, height: 32 });
  });

  it.each<[string, Scale[], string]>([
    ['an empty plan', [], 'the scale plan is empty, but the content is 40x32'],
    [
      "a plan that ends short of the content's size",
      [
        { width: 20, height: 16, iterations: 2 },
        { width: 28, height: 22, iterations: 2 },
      ],
      'the scale plan ends at 28x22, but the content is 40x32',
    ],
    [
      'a plan at the right width but not height',
      [{ width: 40, height: 30, iterations: 2 }],
      'the scale plan ends at 40x30, but the content is 40x32',
    ],
  ])('refuses %s as INTERNAL before building an engine', async (_, scales, message) => {
    const { built, createEngine } = recordingEngines();
    await expect(
      stylize({ content, styles: [style] }, options, { weights, scales, createEngine }),
    ).rejects.toMatchObject({ code: 'INTERNAL', message });
    expect(built).toEqual([]);
  });
});
