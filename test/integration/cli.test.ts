/**
 * The `nst` command end to end, in child processes: options and defaults in --help, every bad input
 * giving its clear error and exit code 2 with no output written, a real run's JSON summary, determinism.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateVggWeights } from '../../src/engine/vgg.js';
import { writeWeights } from '../../src/weights/store.js';
import { nst } from '../helpers/cli.js';
import { photoLike, sharpOf } from '../helpers/images.js';

let dir: string;
let weights: string;
let content: string;
let style: string;
const tiny = ['--size', '32', '--min-size', '32', '--iterations', '4'];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nst-cli-'));
  weights = path.join(dir, 'weights');
  await writeWeights(weights, generateVggWeights(3));
  content = path.join(dir, 'content.png');
  style = path.join(dir, 'style.jpg');
  await sharpOf(photoLike(48, 40, 1))
    .png()
    .toFile(content);
  await sharpOf(photoLike(40, 40, 9))
    .jpeg()
    .toFile(style);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const out = (name: string) => path.join(dir, name);
const run = (output: string, ...extra: string[]) =>
  nst([
    'stylize',
    '--content',
    content,
    '--style',
    style,
    '-o',
    output,
    '--weights',
    weights,
    ...tiny,
    ...extra,
  ]);

describe('nst stylize', () => {
  it('documents every option with its default in --help', async () => {
    const { code, stdout } = await nst(['stylize', '--help']);
    expect(code).toBe(0);
    for (const flag of [
      '--size',
      '--iterations',
      '--optimizer',
      '--lbfgs-history',
      '--line-search',
      '--weights',
      '--content-weight',
      '--style-strength',
      '--pooling',
      '--init',
      '--original-colors',
      '--color-match',
      '--average-decay',
      '--seed',
      '--save-every',
      '--engine',
      '--json',
      '--dry-run',
    ]) {
      expect(stdout).toContain(flag);
    }
    expect(stdout).toMatch(/--size <value>[^-]*\(default:\s+512\)/);
    expect(stdout.replace(/\s+/g, ' ')).toMatch(
      /--style-mask <image> +mask of the --style before it.*a pixel no mask covers gets only the content and TV losses/,
    );
  });

  it('applies --style-mask to the --style before it: sky one style, ground another, one unmasked', async () => {
    const [sky, ground] = [out('sky.png'), out('ground.png')];
    // Any size (stretched to the content); greyscale and colour (read by luminance) masks alike.
    const half = (top: boolean) =>
      sharp({ create: { width: 20, height: 10, channels: 3, background: '#000000' } }).composite([
        {
          input: { create: { width: 20, height: 5, channels: 3, background: '#ffffff' } },
          left: 0,
          top: top ? 0 : 5,
        },
      ]);
    await half(true).grayscale().png().toFile(sky);
    await half(false).png().toFile(ground);
    const output = out('masked.png');
    const { code, stdout, stderr } = await nst([
      'stylize',
      '-c',
      content,
      '-s',
      style,
      '--style-mask',
      sky,
      '-s',
      `${content}:0.5`,
      '--style-mask',
      ground,
      '-s',
      style,
      '-o',
      output,
      '--weights',
      weights,
      ...tiny,
      '--json',
    ]);
    expect(stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    const summary = JSON.parse(stdout.trim());
    expect(summary.final.style).toBeLessThan(summary.initial.style);
    expect((await sharp(output).metadata()).width).toBe(32);
  });

  it('refuses a --style-mask with no --style before it (INVALID_OPTION, exit 2, no output)', async () => {
    const output = out('never-mask-first.png');
    const { code, stderr } = await nst([
      'stylize',
      '--style-mask',
      content,
      '-c',
      content,
      '-s',
      style,
      '-o',
      output,
      '--weights',
      weights,
    ]);
    expect(stderr).toMatch(/INVALID_OPTION.*--style-mask .*content\.png has no --style before it/);
    expect(code).toBe(2);
    expect(existsSync(output)).toBe(false);
  });

  it('prints a JSON summary with the loss terms before and after, and writes the result', async () => {
    const output = out('ok.png');
    const { code, stdout, stderr } = await run(output, '--json');
    expect(stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    const summary = JSON.parse(stdout.trim());
    expect(summary).toMatchObject({ output, width: 32, height: 27, iterations: 4 });
    expect(['onnx', 'tfjs']).toContain(summary.engine);
    expect(summary.seconds).toBeGreaterThan(0);
    for (const key of ['content', 'style', 'tv', 'total']) {
      expect(Number.isFinite(summary.initial[key])).toBe(true);
      expect(Number.isFinite(summary.final[key])).toBe(true);
    }
    expect(summary.final.total).toBeLessThan(summary.initial.total);
    const meta = await sharp(output).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([32, 27, 'png']);
  });

  it('gives byte-identical output for the same inputs, seed and engine', async () => {
    const a = await run(out('a.png'), '--init', 'random', '--seed', '7', '--engine', 'onnx');
    const b = await run(out('b.png'), '--init', 'random', '--seed', '7', '--engine', 'onnx');
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(Buffer.compare(await readFile(out('a.png')), await readFile(out('b.png')))).toBe(0);
  });

  it('runs with --color-match, --original-colors and Adam with --average-decay', async () => {
    const output = out('colours.png');
    const { code, stdout, stderr } = await run(
      output,
      '--json',
      '--color-match',
      '--original-colors',
      '--optimizer',
      'adam',
      '--average-decay',
      '0.9',
    );
    expect(stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    expect(JSON.parse(stdout.trim())).toMatchObject({ output, iterations: 4 });
    expect(existsSync(output)).toBe(true);
  });

  it('passes --line-search and --lbfgs-history to L-BFGS: the line search runs and lowers the loss', async () => {
    const fixed = await run(out('fixed-step.png'), '--json');
    const searched = await run(
      out('line-search.png'),
      '--json',
      '--line-search',
      'strong-wolfe',
      '--lbfgs-history',
      '5',
    );
    expect([fixed.code, searched.code]).toEqual([0, 0]);
    const [a, b] = [JSON.parse(fixed.stdout.trim()), JSON.parse(searched.stdout.trim())];
    expect(b.iterations).toBe(4);
    expect(b.initial.total).toBe(a.initial.total);
    expect(b.final.total).toBeLessThan(b.initial.total);
    // Another optimiser path than the default fixed step, so the flags reached the optimiser.
    expect(b.final.total).not.toBe(a.final.total);
  });

  it('writes a frame every --save-every iterations beside the output', async () => {
    const { code } = await run(out('framed.png'), '--save-every', '2');
    expect(code).toBe(0);
    expect([existsSync(out('framed.0002.png')), existsSync(out('framed.0004.png'))]).toEqual([true, true]);
    expect(existsSync(out('framed.0001.png'))).toBe(false);
  });

  it('plans without running on --dry-run', async () => {
    const { code, stdout } = await run(out('dry.png'), '--dry-run', '--json');
    expect(code).toBe(0);
    const plan = JSON.parse(stdout.trim());
    expect(plan).toMatchObject({ dryRun: true, width: 32, height: 27 });
    expect(Object.keys(plan.estimates).length).toBeGreaterThan(0);
    expect(plan.peakMemoryMb).toBeGreaterThan(0);
    expect(existsSync(out('dry.png'))).toBe(false);
  });

  // The route the deployed pipeline would take (default stack: 10240 MB, 900 s less the 60 s margin, Batch on).
  const dryRun = async (...flags: string[]) => {
    const { code, stdout, stderr } = await nst([
      'stylize',
      '--content',
      content,
      '--style',
      style,
      '-o',
      out('route.png'),
      '--dry-run',
      ...flags,
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    return stdout;
  };

  it.each([
    { job: 'the default 512 px job', flags: [], route: 'lambda' },
    {
      // Too large to run whole: the default tile size makes it tiles that fit the function.
      job: "2048x2048 at 10 iterations (the issue's OOM case)",
      flags: ['--size', '2048', '--iterations', '10'],
      route: 'tiles',
    },
    {
      job: '2048x2048 at 10 iterations, untiled (--tile-size 4096)',
      flags: ['--size', '2048', '--iterations', '10', '--tile-size', '4096'],
      route: 'batch',
    },
    {
      job: '4096 px at 10000 iterations',
      flags: ['--size', '4096', '--iterations', '10000'],
      route: 'too-large',
    },
  ])('plans $job on --dry-run --json: awsRoute $route', async ({ flags, route }) => {
    const square = out('square.png');
    if (!existsSync(square))
      await sharpOf(photoLike(40, 40, 2))
        .png()
        .toFile(square);
    const { code, stdout } = await nst([
      'stylize',
      '--content',
      flags.length > 0 ? square : content,
      '--style',
      style,
      '-o',
      out('route.png'),
      '--dry-run',
      '--json',
      ...flags,
    ]);
    expect(code).toBe(0);
    const plan = JSON.parse(stdout.trim());
    expect(plan.awsRoute).toBe(route);
    expect(plan.peakMemoryMb).toBeGreaterThan(900);
    if (route === 'too-large')
      expect(plan.aws.reason).toMatch(/GB-s of Lambda time .*over the cost cap of 200000 GB-s/);
    if (route === 'tiles') expect(plan.aws.tiles).toMatchObject({ concurrency: 10, maxGbSeconds: 200_000 });
  });

  it('plans tiles on --dry-run: tiles and rounds per tiled scale, on the onnx engine, in bounded memory', async () => {
    const flags = ['--size', '4096', '--iterations', '100', '--tile-size', '1024', '--json'];
    // A tile as large as the result: untiled.
    const untiled = JSON.parse(
      (await dryRun('--size', '4096', '--iterations', '100', '--tile-size', '4096', '--json')).trim(),
    );
    const plan = JSON.parse((await dryRun(...flags)).trim());
    expect(Object.keys(plan.estimates)).toEqual(['onnx']);
    const scales = plan.estimates.onnx.scales;
    expect(scales.at(-1)).toMatchObject({ width: 4096, tiles: 20, rounds: 5 });
    expect(scales[0].tiles).toBeUndefined();
    // Every tile of every tiled scale, in that scale's pixels: 3 x 2 at 2048 px, 5 x 4 at 4096 px.
    expect(plan.tiles).toHaveLength(6 + 20);
    expect(plan.tiles[0]).toEqual({ scale: 4, x: 0, y: 0, width: 1024, height: 1024 });
    const last = { scale: 5, x: 3584, y: 2688, width: 512, height: plan.height - 2688 };
    expect(plan.tiles.at(-1)).toEqual(last);
    expect(plan.peakMemoryMb).toBeLessThan(untiled.peakMemoryMb / 5);
    expect(await dryRun('--size', '4096', '--tile-size', '1024')).toMatch(
      /4096x\d+ x 100 iterations as 20 tiles in 5 rounds/,
    );
    // Each tile worker beyond the first holds a tile engine of its own.
    const [one, two] = await Promise.all(
      ['1', '2'].map(async (n) => JSON.parse((await dryRun(...flags, '--workers', n)).trim())),
    );
    expect([one.workers, two.workers]).toEqual([1, 2]);
    expect(two.peakMemoryMb).toBeGreaterThan(one.peakMemoryMb);
    expect(await dryRun('--size', '4096', '--tile-size', '1024', '--workers', '2')).toMatch(
      /\d+ threads in 2 tile workers, peak memory about \d+ MB/,
    );
  });

  it('prints the peak memory and the deployed route on --dry-run', async () => {
    const stdout = await dryRun('--size', '2048', '--iterations', '10');
    expect(stdout).toMatch(/peak memory about \d+ MB/);
    expect(stdout).toMatch(/deployed pipeline \(default stack\): tiles/);
    expect(stdout).toMatch(/Lambda: about \d+ s of 840 s, \d+ MB of 10240 MB/);
    expect(stdout).toMatch(
      /Lambda tiles: about \d+ tile-seconds, \d+ s wall at 10 at once, \d+ MB a tile, \d+ GB-s of the 200000 GB-s cap/,
    );
  });
});

describe('bad input: a clear error, exit code 2, no output file', () => {
  const cases: [string, () => Promise<string[]>, RegExp][] = [
    ['a missing content file', async () => ['--content', out('nope.jpg')], /IMAGE_NOT_FOUND.*nope\.jpg/],
    [
      'a zero-byte file',
      async () => {
        await writeFile(out('empty.jpg'), '');
        return ['--content', out('empty.jpg')];
      },
      /IMAGE_EMPTY.*empty\.jpg/,
    ],
    [
      'a file that is not an image',
      async () => {
        await writeFile(out('notes.jpg'), 'just some text, not pixels\n'.repeat(20));
        return ['--content', out('notes.jpg')];
      },
      /IMAGE_UNSUPPORTED.*notes\.jpg/,
    ],
    [
      'a corrupt (truncated) image',
      async () => {
        const jpeg = await sharpOf(photoLike(64, 64, 3))
          .jpeg()
          .toBuffer();
        await writeFile(out('cut.jpg'), jpeg.subarray(0, jpeg.length >> 1));
        return ['--content', out('cut.jpg')];
      },
      /IMAGE_CORRUPT.*cut\.jpg/,
    ],
    [
      'too many pixels',
      async () => {
        await sharp({ create: { width: 8000, height: 6000, channels: 3, background: '#808080' } })
          .png({ compressionLevel: 1 })
          .toFile(out('huge.png'));
        return ['--style', out('huge.png')];
      },
      /IMAGE_TOO_LARGE.*huge\.png/,
    ],
    [
      'a style more elongated than 32:1 (the style-image bomb)',
      async () => {
        await sharp({ create: { width: 20_000, height: 2, channels: 3, background: '#808080' } })
          .png()
          .toFile(out('bomb.png'));
        return ['--style', out('bomb.png'), '--size', '64'];
      },
      /IMAGE_TOO_LARGE.*bomb\.png is 20000x2, an aspect ratio of 10000:1, over the limit of 32:1/,
    ],
    [
      'a bad option value',
      async () => ['--size', '-3', '--pooling', 'max', '--tv-weight', 'lots'],
      /INVALID_OPTION[\s\S]*--size[\s\S]*--tv-weight/,
    ],
    ['an unknown choice', async () => ['--pooling', 'median'], /pooling/],
    ['an unknown line search', async () => ['--line-search', 'sideways'], /--line-search.*sideways/],
    [
      'no tile workers',
      async () => ['--workers', '0'],
      /INVALID_OPTION.*--workers must be a whole number from 1/,
    ],
    [
      'an L-BFGS history out of range',
      async () => ['--lbfgs-history', '0'],
      /INVALID_OPTION[\s\S]*--lbfgs-history/,
    ],
    [
      'iterate averaging with L-BFGS',
      async () => ['--optimizer', 'lbfgs', '--average-decay', '0.9'],
      /INVALID_OPTION[\s\S]*--average-decay: iterate averaging is for Adam only/,
    ],
    [
      'a style strength and a style weight together',
      async () => ['--style-strength', '7', '--style-weight', '1e4'],
      /INVALID_OPTION[\s\S]*--style-weight: the style strength and the style weight both set beta, the style loss weight: give one of them/,
    ],
    [
      'a style strength out of range',
      async () => ['--style-strength', '0'],
      /INVALID_OPTION[\s\S]*--style-strength/,
    ],
    [
      'an unsupported output format',
      async () => ['-o', out('result.bmp')],
      /OUTPUT_FORMAT_UNSUPPORTED.*\.bmp/,
    ],
    [
      'a missing weights directory',
      async () => ['--weights', out('no-weights')],
      /WEIGHTS_NOT_FOUND.*no-weights.*weights fetch/s,
    ],
    [
      'frames that would overwrite an input',
      async () => {
        await writeFile(out('shot.0002.png'), await readFile(content));
        return ['--content', out('shot.0002.png'), '-o', out('shot.png'), '--save-every', '2'];
      },
      /INVALID_OPTION.*frames over the input/,
    ],
    [
      'two --style-mask for one --style',
      async () => ['--style-mask', content, '--style-mask', style],
      /INVALID_OPTION.*has two masks .*one --style-mask per style/,
    ],
    [
      'a missing style mask',
      async () => ['--style-mask', out('no-mask.png')],
      /IMAGE_NOT_FOUND.*no-mask\.png/,
    ],
    [
      'the output overwriting a style mask',
      async () => ['--style-mask', out('mask-out.png'), '-o', out('mask-out.png')],
      /INVALID_OPTION.*inputs are never overwritten/,
    ],
    [
      'the output overwriting an input',
      async () => ['-o', content],
      /INVALID_OPTION.*inputs are never overwritten/,
    ],
  ];

  it.each(cases)('%s', async (_name, setup, message) => {
    const extra = await setup();
    const output = out(`never-${Math.random().toString(36).slice(2)}.png`);
    const before = existsSync(content) ? await readFile(content) : undefined;
    const { code, stderr } = await run(output, ...extra);
    expect(stderr).toMatch(message);
    expect(code).toBe(2);
    expect(existsSync(output)).toBe(false);
    if (before) expect(Buffer.compare(await readFile(content), before)).toBe(0);
  });
});
