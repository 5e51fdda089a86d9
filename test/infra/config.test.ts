import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, DEFAULT_CONFIG, parseConfig, readConfig } from '../../infra/config.js';
import { NstError } from '../../src/errors.js';
import { cdkJsonContext } from './helpers.js';

describe('stack settings (CDK context)', () => {
  it('cdk.json lists every key with the defaults the code uses', () => {
    const context = cdkJsonContext();
    for (const key of CONFIG_KEYS) expect(context, key).toHaveProperty(key);
    expect(parseConfig(context)).toEqual(DEFAULT_CONFIG);
    expect(DEFAULT_CONFIG).toMatchObject({
      memory: 10240,
      timeout: 900,
      architecture: 'x86_64',
      batch: true,
      instanceTypes: ['g5', 'g6'],
      spot: false,
    });
  });

  it('parses the strings `-c key=value` passes', () => {
    const config = parseConfig({
      memory: '3008',
      batch: 'false',
      spot: 'true',
      instanceTypes: 'g6, g5.2xlarge',
      reservedConcurrency: '5',
      notificationEmail: 'ops@example.com',
      logRetentionDays: '90',
      vpcId: '',
    });
    expect(config).toMatchObject({
      memory: 3008,
      batch: false,
      spot: true,
      instanceTypes: ['g6', 'g5.2xlarge'],
      reservedConcurrency: 5,
      notificationEmail: 'ops@example.com',
      logRetentionDays: 90,
    });
    expect(config.vpcId).toBeUndefined();
  });

  it('reserves 10 concurrent executions unless told otherwise; false means no reservation', () => {
    for (const unset of [undefined, null, '']) {
      expect(parseConfig({ reservedConcurrency: unset }).reservedConcurrency, String(unset)).toBe(10);
    }
    for (const none of [false, 'false', 'none']) {
      expect(parseConfig({ reservedConcurrency: none }).reservedConcurrency, String(none)).toBe(false);
    }
    expect(parseConfig({ reservedConcurrency: 25 }).reservedConcurrency).toBe(25);
  });

  it('cancels RUNNABLE jobs after an hour by default, within what Batch allows', () => {
    expect(DEFAULT_CONFIG.batchRunnableTimeoutSeconds).toBe(3600);
    expect(parseConfig({ batchRunnableTimeoutSeconds: '7200' }).batchRunnableTimeoutSeconds).toBe(7200);
  });

  it.each([
    [{ reservedConcurrency: '0' }, 'reservedConcurrency', 'use false for no reservation'],
    [{ reservedConcurrency: 'true' }, 'reservedConcurrency', '1..1000, or false for no reservation'],
    [{ reservedConcurrency: '1001' }, 'reservedConcurrency', '1..1000, or false for no reservation'],
    [{ reservedConcurrency: '2.5' }, 'reservedConcurrency', '1..1000, or false for no reservation'],
    [{ batchRunnableTimeoutSeconds: '300' }, 'batchRunnableTimeoutSeconds', '>=600'],
    [{ batchRunnableTimeoutSeconds: '90000' }, 'batchRunnableTimeoutSeconds', '<=86400'],
  ])('rejects %j naming the key and the problem', (raw, key, hint) => {
    expect(() => parseConfig(raw)).toThrow(`${key}:`);
    expect(() => parseConfig(raw)).toThrow(hint);
  });

  it.each([
    [{ memory: '20000' }, 'memory'],
    [{ architecture: 'sparc' }, 'architecture'],
    [{ logRetentionDays: '10' }, 'logRetentionDays'],
    [{ notificationEmail: 'not-an-address' }, 'notificationEmail'],
    [{ eventBus: 'my bus' }, 'eventBus'],
    [{ batch: 'maybe' }, 'batch'],
    [{ namePrefix: 'Has Spaces' }, 'namePrefix'],
    [{ keyPrefix: '/art' }, 'keyPrefix'],
  ])('rejects %j naming the key', (raw, key) => {
    const error = (() => {
      try {
        parseConfig(raw);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(NstError);
    expect((error as NstError).code).toBe('INVALID_OPTION');
    expect((error as NstError).message).toContain(`${key}:`);
  });
});

describe('renamed settings', () => {
  it('refuses the old prefix key, naming both keys it became, rather than renaming a deployment silently', () => {
    const app = new App({ context: { prefix: 'acme' } });
    expect(() => readConfig(app.node)).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTION',
        message: expect.stringMatching(/prefix is now namePrefix .* or keyPrefix/),
      }),
    );
    expect(readConfig(new App({ context: { namePrefix: 'acme', keyPrefix: 'art/' } }).node)).toMatchObject({
      namePrefix: 'acme',
      keyPrefix: 'art/',
    });
  });
});
