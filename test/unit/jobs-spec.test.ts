/** Job specs, drop-in metadata and the published JSON Schema. */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { SCHEMA_FILE, schemaText } from '../../schema/generate.js';
import { DEFAULT_STYLIZE_OPTIONS, stylizeOptionsSchema } from '../../src/engine/options.js';
import { NstError } from '../../src/errors.js';
import { optionsMetadata } from '../../src/jobs/client.js';
import { outputFormatFor } from '../../src/jobs/inputs.js';
import { optionsFromMetadata, specFromMetadata } from '../../src/jobs/metadata.js';
import { jobSpecJsonSchema, parseJobSpec, validateJobSpec } from '../../src/jobs/spec.js';

const thrown = (f: () => unknown): NstError => {
  try {
    f();
  } catch (e) {
    return e as NstError;
  }
  throw new Error('expected an error');
};

describe('job spec', () => {
  it('fills every default: options as the CLI has them, weights 1, output from the content', () => {
    const spec = parseJobSpec(
      '{"content": "inputs/a.jpg", "styles": [{"key": "styles/b.jpg"}]}',
      'jobs/a.json',
    );
    expect(spec).toEqual({
      content: 'inputs/a.jpg',
      styles: [{ key: 'styles/b.jpg', weight: 1 }],
      options: DEFAULT_STYLIZE_OPTIONS,
      output: { keepAlpha: false },
    });
    expect(outputFormatFor(spec)).toBe('jpeg');
    expect(outputFormatFor({ ...spec, content: 'inputs/a.PNG' })).toBe('png');
    expect(outputFormatFor({ ...spec, content: 'inputs/a.gif' })).toBe('jpeg');
    expect(outputFormatFor({ ...spec, output: { format: 'webp', keepAlpha: false } })).toBe('webp');
  });

  it('takes the example of the issue as is', () => {
    const spec = validateJobSpec(
      {
        content: 'inputs/a.jpg',
        styles: [{ key: 'styles/b.jpg', weight: 1 }],
        options: { size: 512, iterations: 300 },
      },
      'jobs/x.json',
    );
    expect(spec.options).toMatchObject({ size: 512, iterations: 300, optimizer: 'lbfgs' });
  });

  it('lists every problem of a bad spec with its path', () => {
    const error = thrown(() =>
      validateJobSpec(
        {
          content: 's3://elsewhere/a.jpg',
          styles: [],
          options: { size: 8, optimizer: 'sgd', unknownOption: 1 },
          output: { format: 'bmp' },
          extra: true,
        },
        'jobs/bad.json',
      ),
    );
    expect(error).toBeInstanceOf(NstError);
    expect(error.code).toBe('INVALID_JOB_SPEC');
    expect(error.kind).toBe('input');
    const lines = error.message
      .split('\n')
      .slice(1)
      .map((l) => l.trim());
    expect(error.message).toMatch(/^jobs\/bad\.json is not a valid job spec:/);
    expect(lines).toEqual([
      'content: must be an object key in this bucket, like inputs/photo.jpg',
      'styles: Too small: expected array to have >=1 items',
      'options.size: Too small: expected number to be >=16',
      'options.optimizer: Invalid option: expected one of "lbfgs"|"adam"',
      'options.unknownOption: Unrecognized key: "unknownOption"',
      'output.format: Invalid option: expected one of "jpeg"|"png"|"webp"|"avif"|"tiff"',
      'extra: Unrecognized key: "extra"',
    ]);
  });

  it('needs initImage for init "image"', () => {
    const error = thrown(() =>
      validateJobSpec(
        { content: 'a.jpg', styles: [{ key: 's.jpg' }], options: { init: 'image' } },
        'jobs/i.json',
      ),
    );
    expect(error.message).toContain('initImage: options.init "image" needs initImage');
  });

  it('rejects text that is not JSON', () => {
    expect(thrown(() => parseJobSpec('content: a.jpg', 'jobs/yaml.json')).message).toMatch(
      /jobs\/yaml\.json .*not valid JSON/s,
    );
  });

  it('the committed JSON Schema is up to date (regenerate: npx tsx schema/generate.ts)', async () => {
    expect(await readFile(SCHEMA_FILE, 'utf8')).toBe(schemaText());
    const schema = jobSpecJsonSchema() as {
      required: string[];
      properties: Record<string, { properties?: object }>;
    };
    expect(schema.required).toEqual(['content', 'styles']);
    expect(Object.keys(schema.properties.options.properties!)).toEqual(
      Object.keys(stylizeOptionsSchema.shape),
    );
  });
});

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

  it('nst submit writes metadata the pipeline reads back', () => {
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
});
