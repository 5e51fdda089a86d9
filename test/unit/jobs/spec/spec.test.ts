/** Job specs (jobs/*.json) and the published JSON Schema. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_STYLIZE_OPTIONS, stylizeOptionsSchema } from '../../../../src/engine/options.js';
import { NstError } from '../../../../src/errors.js';
import {
  jobSpecJsonSchema,
  PIPELINE_LIMITS,
  parseJobSpec,
  validateJobSpec,
} from '../../../../src/jobs/spec/spec.js';
import { thrown } from '../../../helpers/thrown.js';

describe('job spec', () => {
  it('fills every default: options as the CLI has them, weights 1, no output format', () => {
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
      'content: must be an object key in this bucket under assets/ or inputs/, like assets/photo.jpg',
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
        { content: 'inputs/a.jpg', styles: [{ key: 'styles/s.jpg' }], options: { init: 'image' } },
        'jobs/i.json',
      ),
    );
    expect(error.message).toContain('initImage: options.init "image" needs initImage');
  });

  it('reads content and init images only under assets/ or inputs/, styles only under styles/, naming each field', () => {
    const spec = validateJobSpec(
      { content: 'assets/a.jpg', styles: [{ key: 'styles/b.jpg' }], initImage: 'inputs/start.jpg' },
      'jobs/assets.json',
    );
    expect([spec.content, spec.initImage]).toEqual(['assets/a.jpg', 'inputs/start.jpg']);
    const error = thrown(() =>
      validateJobSpec(
        {
          content: 'photo.jpg',
          styles: [{ key: 'styles/ok.jpg' }, { key: 'inputs/painting.jpg' }, { key: '/styles/x.jpg' }],
          initImage: 'outputs/other/result.jpg',
          options: { init: 'image' },
        },
        'jobs/keys.json',
      ),
    );
    expect(error.code).toBe('INVALID_JOB_SPEC');
    expect(
      error.message
        .split('\n')
        .slice(1)
        .map((l) => l.trim()),
    ).toEqual([
      'content: must be an object key in this bucket under assets/ or inputs/, like assets/photo.jpg',
      'styles.1.key: must be an object key in this bucket under styles/, like styles/starry.jpg',
      'styles.2.key: must be an object key in this bucket under styles/, like styles/starry.jpg',
      'initImage: must be an object key in this bucket under assets/ or inputs/, like assets/start.jpg',
    ]);
    // The published schema says so too.
    const schema = jobSpecJsonSchema() as { properties: Record<string, { pattern?: string }> };
    expect(schema.properties.content.pattern).toBe('^(assets\\/|inputs\\/)');
    expect(schema.properties.initImage.pattern).toBe('^(assets\\/|inputs\\/)');
  });

  it('takes a mask per style under styles/, assets/ or inputs/, and refuses one anywhere else', () => {
    const spec = validateJobSpec(
      {
        content: 'inputs/a.jpg',
        styles: [
          { key: 'styles/starry.jpg', mask: 'styles/masks/sky.png' },
          { key: 'styles/scream.jpg', mask: 'inputs/masks/ground.png' },
          { key: 'styles/mosaic.jpg', mask: 'assets/masks/trees.png' },
          { key: 'styles/plain.jpg' },
        ],
      },
      'jobs/masks.json',
    );
    expect(spec.styles.map((s) => s.mask)).toEqual([
      'styles/masks/sky.png',
      'inputs/masks/ground.png',
      'assets/masks/trees.png',
      undefined,
    ]);
    const error = thrown(() =>
      validateJobSpec(
        { content: 'inputs/a.jpg', styles: [{ key: 'styles/b.jpg', mask: 'outputs/x/result.png' }] },
        'jobs/bad-mask.json',
      ),
    );
    expect(error.message).toContain(
      'styles.0.mask: must be an object key in this bucket under styles/, assets/ or inputs/, like styles/masks/sky.png',
    );
  });

  it(`refuses saveEvery under ${PIPELINE_LIMITS.minSaveEvery} (0 is no frames), with the other problems`, () => {
    const spec = (saveEvery: number) => ({
      content: 'inputs/a.jpg',
      styles: [{ key: 'styles/b.jpg' }],
      options: { saveEvery },
    });
    expect(validateJobSpec(spec(0), 'jobs/a.json').options.saveEvery).toBe(0);
    expect(validateJobSpec(spec(10), 'jobs/a.json').options.saveEvery).toBe(10);
    const error = thrown(() => validateJobSpec({ ...spec(1), content: 'a.jpg' }, 'jobs/a.json'));
    expect(error.code).toBe('INVALID_JOB_SPEC');
    expect(error.message).toContain('content: must be an object key in this bucket under assets/ or inputs/');
    expect(error.message).toContain(
      'options.saveEvery: must be 0 (no frames) or at least 10 in pipeline jobs',
    );
  });

  it('refuses keys with . or .. segments, which would only fail as requests later', () => {
    const error = thrown(() =>
      validateJobSpec({ content: 'inputs/../x.jpg', styles: [{ key: 'styles/./b.jpg' }] }, 'jobs/a.json'),
    );
    expect(error.code).toBe('INVALID_JOB_SPEC');
    expect(error.message).toContain('content: must not have . or .. segments');
    expect(error.message).toContain('styles.0.key: must not have . or .. segments');
  });

  it('takes options.colorMatch and options.averageDecay (Adam only)', () => {
    const base = { content: 'inputs/a.jpg', styles: [{ key: 'styles/b.jpg' }] };
    const spec = validateJobSpec(
      { ...base, options: { colorMatch: true, optimizer: 'adam', averageDecay: 0.95 } },
      'jobs/c.json',
    );
    expect(spec.options).toMatchObject({ colorMatch: true, optimizer: 'adam', averageDecay: 0.95 });
    const error = thrown(() =>
      validateJobSpec({ ...base, options: { colorMatch: 'yes', averageDecay: 0.95 } }, 'jobs/d.json'),
    );
    expect(error.code).toBe('INVALID_JOB_SPEC');
    expect(error.message).toMatch(/options\.colorMatch: .*boolean/);
    // The cross-option check runs once each option is valid on its own.
    const lbfgs = thrown(() => validateJobSpec({ ...base, options: { averageDecay: 0.95 } }, 'jobs/e.json'));
    expect(lbfgs.message).toContain('options.averageDecay: iterate averaging is for Adam only');
  });

  it('takes options.styleStrength, and refuses it beside options.styleWeight', () => {
    const base = { content: 'inputs/a.jpg', styles: [{ key: 'styles/b.jpg' }] };
    expect(
      validateJobSpec({ ...base, options: { styleStrength: 8 } }, 'jobs/f.json').options.styleStrength,
    ).toBe(8);
    const both = thrown(() =>
      validateJobSpec({ ...base, options: { styleStrength: 8, styleWeight: 1e5 } }, 'jobs/g.json'),
    );
    expect(both.code).toBe('INVALID_JOB_SPEC');
    expect(both.message).toContain(
      'options.styleWeight: the style strength and the style weight both set beta, the style loss weight: give one of them',
    );
  });

  it('rejects text that is not JSON', () => {
    expect(thrown(() => parseJobSpec('content: a.jpg', 'jobs/yaml.json')).message).toMatch(
      /jobs\/yaml\.json .*not valid JSON/s,
    );
  });

  it('the published JSON Schema requires content and styles and lists every option', () => {
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
