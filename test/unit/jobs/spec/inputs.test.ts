/** From a spec to its inputs: the output format. */
import { describe, expect, it } from 'vitest';
import { outputFormatFor } from '../../../../src/jobs/spec/inputs.js';
import { parseJobSpec } from '../../../../src/jobs/spec/spec.js';

describe('inputs', () => {
  it("writes the output format of the spec, else the content's when it can be written, else JPEG", () => {
    const spec = parseJobSpec(
      '{"content": "inputs/a.jpg", "styles": [{"key": "styles/b.jpg"}]}',
      'jobs/a.json',
    );
    expect(outputFormatFor(spec)).toBe('jpeg');
    expect(outputFormatFor({ ...spec, content: 'inputs/a.PNG' })).toBe('png');
    expect(outputFormatFor({ ...spec, content: 'inputs/a.gif' })).toBe('jpeg');
    expect(outputFormatFor({ ...spec, output: { format: 'webp', keepAlpha: false } })).toBe('webp');
  });
});
