/** Object keys in S3 event records: form-URL-encoded, as S3 sends them. */
import { describe, expect, it } from 'vitest';
import { decodeEventKey, encodeEventKey } from '../../../src/storage/event-keys.js';

describe('S3 event keys', () => {
  it('encodes keys as S3 does in event records: form encoding, "/" kept', () => {
    expect(encodeEventKey('inputs/starry/red flower.jpg')).toBe('inputs/starry/red+flower.jpg');
    expect(encodeEventKey('inputs/a/b+c %d.jpg')).toBe('inputs/a/b%2Bc+%25d.jpg');
    expect(encodeEventKey("inputs/a/it's (1)!~*.jpg")).toBe('inputs/a/it%27s+%281%29%21%7E*.jpg');
    expect(encodeEventKey('inputs/a/dt=2024-01-01:x,y.jpg')).toBe('inputs/a/dt%3D2024-01-01%3Ax%2Cy.jpg');
    expect(encodeEventKey('inputs/ü/東京.jpg')).toBe('inputs/%C3%BC/%E6%9D%B1%E4%BA%AC.jpg');
  });

  it('decodes every key back exactly', () => {
    const keys = ['a b', 'a+b', 'a%b', 'a%2Bb', '100% + 1 = (ü)', 'x/y z/+/%20', "it's~!*", '😀 emoji'];
    for (const key of keys) expect(decodeEventKey(encodeEventKey(key))).toBe(key);
    // The documented example.
    expect(decodeEventKey('red+flower.jpg')).toBe('red flower.jpg');
  });
});
