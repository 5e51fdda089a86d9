/** Drop-in metadata: options as x-amz-meta-nst-* headers. */
import { describe, expect, it } from 'vitest';
import { optionsFromMetadata, specFromMetadata } from '../../../../src/jobs/spec/metadata.js';
import { thrown } from '../../../helpers/thrown.js';

describe('drop-in metadata', () => {
  it('reads each option as the type its schema expects', () => {
    expect(
      optionsFromMetadata({
        'nst-size': '512',
        'nst-style-weight': '1e4',
        'nst-original-colors': 'true',
        'nst-style-layer-weights': '1, 0.5,0.25,0.1,0',
        'nst-optimizer': 'adam',
        'nst-format': 'png',
        'nst-quality': '90',
        'nst-keep-alpha': 'false',
        'other-header': 'ignored',
      }),
    ).toEqual({
      options: {
        size: 512,
        styleWeight: 1e4,
        originalColors: true,
        styleLayerWeights: [1, 0.5, 0.25, 0.1, 0],
        optimizer: 'adam',
      },
      output: { format: 'png', quality: 90, keepAlpha: false },
      unknown: [],
    });
  });

  it('reads an iteration schedule as a number or a per-scale list', () => {
    expect(optionsFromMetadata({ 'nst-iterations': '300' }).options).toEqual({ iterations: 300 });
    expect(optionsFromMetadata({ 'nst-iterations': '50, 30,80' }).options).toEqual({
      iterations: [50, 30, 80],
    });
    const error = thrown(() =>
      specFromMetadata(
        { 'nst-iterations': '50,many' },
        { content: 'inputs/s/a.jpg', styles: [{ key: 'styles/s.png', weight: 1 }] },
      ),
    );
    expect(error.message).toMatch(/x-amz-meta-nst-iterations: .*\(got "50,many"\)/);
  });

  it('builds the spec of a drop-in', () => {
    const spec = specFromMetadata(
      { 'nst-iterations': '50' },
      { content: 'inputs/s/a.jpg', styles: [{ key: 'styles/s.png', weight: 1 }] },
    );
    expect(spec).toMatchObject({
      content: 'inputs/s/a.jpg',
      styles: [{ key: 'styles/s.png', weight: 1 }],
      options: { iterations: 50, size: 512 },
    });
  });

  it('names each bad header with the value it got', () => {
    const error = thrown(() =>
      specFromMetadata(
        {
          'nst-size': 'huge',
          'nst-original-colors': 'maybe',
          'nst-style-layer-weights': '1,2',
          'nst-sizes': '3',
        },
        { content: 'inputs/s/a.jpg', styles: [{ key: 'styles/s.png', weight: 1 }] },
      ),
    );
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toContain('inputs/s/a.jpg has invalid options in its metadata');
    expect(error.message).toContain('x-amz-meta-nst-sizes: not an option');
    expect(error.message).toMatch(/x-amz-meta-nst-size: .* \(got "huge"\)/);
    expect(error.message).toMatch(/x-amz-meta-nst-original-colors: .* \(got "maybe"\)/);
    expect(error.message).toMatch(/x-amz-meta-nst-style-layer-weights: .* \(got "1,2"\)/);
  });

  it('refuses nst-save-every under the pipeline minimum, naming the header and its value', () => {
    const base = { content: 'inputs/s/a.jpg', styles: [{ key: 'styles/s.png', weight: 1 }] };
    expect(specFromMetadata({ 'nst-save-every': '25' }, base).options.saveEvery).toBe(25);
    const error = thrown(() => specFromMetadata({ 'nst-save-every': '1' }, base));
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toContain(
      'x-amz-meta-nst-save-every: must be 0 (no frames) or at least 10 in pipeline jobs (got "1")',
    );
  });

  it('reads nst-color-match and nst-average-decay into the spec', () => {
    const base = { content: 'inputs/s/a.jpg', styles: [{ key: 'styles/s.png', weight: 1 }] };
    const spec = specFromMetadata(
      { 'nst-color-match': 'true', 'nst-optimizer': 'adam', 'nst-average-decay': '0.9' },
      base,
    );
    expect(spec.options).toMatchObject({ colorMatch: true, optimizer: 'adam', averageDecay: 0.9 });
    const defaults = specFromMetadata({}, base).options;
    expect([defaults.colorMatch, defaults.averageDecay]).toEqual([false, undefined]);
  });

  it('refuses nst-average-decay with L-BFGS, naming the header and its value', () => {
    const base = { content: 'inputs/s/a.jpg', styles: [{ key: 'styles/s.png', weight: 1 }] };
    const error = thrown(() => specFromMetadata({ 'nst-average-decay': '0.99' }, base));
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toContain(
      'x-amz-meta-nst-average-decay: iterate averaging is for Adam only: use optimizer adam, or leave averageDecay unset with lbfgs (got "0.99")',
    );
    expect(thrown(() => specFromMetadata({ 'nst-color-match': 'often' }, base)).message).toMatch(
      /x-amz-meta-nst-color-match: .* \(got "often"\)/,
    );
  });

  it('reads nst-style-strength, and refuses it beside nst-style-weight or outside 1..10', () => {
    const base = { content: 'inputs/s/a.jpg', styles: [{ key: 'styles/s.png', weight: 1 }] };
    expect(specFromMetadata({ 'nst-style-strength': '7.5' }, base).options.styleStrength).toBe(7.5);
    const both = thrown(() =>
      specFromMetadata({ 'nst-style-strength': '7', 'nst-style-weight': '1e4' }, base),
    );
    expect(both.code).toBe('INVALID_OPTION');
    expect(both.message).toContain(
      'x-amz-meta-nst-style-weight: the style strength and the style weight both set beta, the style loss weight: give one of them (got "1e4")',
    );
    expect(thrown(() => specFromMetadata({ 'nst-style-strength': '11' }, base)).message).toMatch(
      /x-amz-meta-nst-style-strength: .*10.* \(got "11"\)/,
    );
  });
});
