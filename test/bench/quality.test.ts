/** The quality bench's variants (bench/quality.ts): pure, no runs. */
import { describe, expect, it } from 'vitest';
import { jcjohnsonFlags, variantNamed } from '../../bench/quality.js';

const flagValue = (flags: readonly string[], name: string) => flags[flags.indexOf(name) + 1];

describe('the quality bench’s variants', () => {
  it('expresses jcjohnson/neural-style’s loss in ours: alpha = 10 / (N_c M_c), beta w_l = 400 / N_l^2, tv 5e-4', () => {
    const flags = jcjohnsonFlags(512, 384);
    // relu4_2 at 512x384 is 64x48 positions of 512 channels.
    expect(Number(flagValue(flags, '--content-weight'))).toBeCloseTo(10 / (512 * 64 * 48), 15);
    expect(flagValue(flags, '--style-weight')).toBe('1');
    expect(flagValue(flags, '--style-layer-weights').split(',').map(Number)).toEqual(
      [64, 128, 256, 512, 512].map((n) => 400 / n ** 2),
    );
    expect(flagValue(flags, '--tv-weight')).toBe('5e-4');
    expect([flagValue(flags, '--pooling'), flagValue(flags, '--init')]).toEqual(['max', 'random']);
    // One scale of 1000 iterations with his 100 L-BFGS pairs.
    expect(flagValue(flags, '--min-size')).toBe('512');
    expect(flagValue(flags, '--iterations')).toBe('1000');
    expect(flagValue(flags, '--lbfgs-history')).toBe('100');
    // A portrait's relu4_2 grid floors 405 px to 50 positions across.
    expect(Number(flagValue(jcjohnsonFlags(405, 512), '--content-weight'))).toBeCloseTo(
      10 / (512 * 50 * 64),
      15,
    );
  });

  it('names the variants: default, previous, jcjohnson, strength:<n>, flags:<flags>; anything else is an error', () => {
    const size = { width: 512, height: 384 };
    expect(variantNamed('default', size).flags).toEqual([]);
    expect(variantNamed('previous', size).flags.join(' ')).toContain('--style-weight 1000');
    expect(variantNamed('jcjohnson', size).flags).toEqual(jcjohnsonFlags(512, 384));
    expect(variantNamed('strength:7', size).flags).toEqual(['--style-strength', '7']);
    expect(variantNamed('flags:--style-layer-weights 1,1,1,1,1  --pooling max', size).flags).toEqual([
      '--style-layer-weights',
      '1,1,1,1,1',
      '--pooling',
      'max',
    ]);
    for (const name of ['defualt', 'strength:', 'flags:', 'size:4']) {
      expect(() => variantNamed(name, size), name).toThrow(/--variant: .* is not default, previous/);
    }
  });
});
