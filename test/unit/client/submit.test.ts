/** The pipeline's client (nst submit): the metadata it writes. */
import { describe, expect, it } from 'vitest';
import { optionsMetadata } from '../../../src/client/submit.js';
import { optionsFromMetadata } from '../../../src/jobs/spec/metadata.js';
import { thrown } from '../../helpers/thrown.js';

describe('nst submit', () => {
  it('writes metadata the pipeline reads back', () => {
    const metadata = optionsMetadata(
      { size: 256, styleLayerWeights: [1, 1, 1, 1, 1], originalColors: true },
      { format: 'webp' },
    );
    expect(metadata).toEqual({
      'nst-size': '256',
      'nst-style-layer-weights': '1,1,1,1,1',
      'nst-original-colors': 'true',
      'nst-format': 'webp',
    });
    expect(optionsFromMetadata(metadata)).toEqual({
      options: { size: 256, styleLayerWeights: [1, 1, 1, 1, 1], originalColors: true },
      output: { format: 'webp' },
      unknown: [],
    });
    expect(thrown(() => optionsMetadata({ size: 2 })).code).toBe('INVALID_OPTION');
  });

  it('checks options together as the pipeline will: averaging with L-BFGS is refused before upload', () => {
    expect(optionsMetadata({ optimizer: 'adam', averageDecay: 0.9, colorMatch: true })).toEqual({
      'nst-optimizer': 'adam',
      'nst-average-decay': '0.9',
      'nst-color-match': 'true',
    });
    const error = thrown(() => optionsMetadata({ averageDecay: 0.9 }));
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toMatch(/averageDecay: iterate averaging is for Adam only/);
  });
});
