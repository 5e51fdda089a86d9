import { describe, expect, it } from 'vitest';
import { parseBooleanText } from '../../src/text.js';

describe('parseBooleanText', () => {
  it('reads yes/no text the same way everywhere (flags, S3 metadata)', () => {
    for (const yes of ['true', 'YES', ' on ', '1']) expect(parseBooleanText(yes)).toBe(true);
    for (const no of ['false', 'No', 'off', '0']) expect(parseBooleanText(no)).toBe(false);
    expect(parseBooleanText('maybe')).toBeUndefined();
  });
});
