import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { Storage } from '../../../infra/constructs/storage.js';
import { TEMPORARY_TAG } from '../../../src/storage/object-store.js';
import { bareStack, type Cfn, resourcesOfType } from '../helpers.js';

describe('Storage defaults', () => {
  const { stack, dispose } = bareStack();
  new Storage(stack, 'Storage');
  const template = Template.fromStack(stack);
  afterAll(dispose);

  it('expire temporary objects after 7 days and access logs after 30', () => {
    const rules = Object.values(resourcesOfType(template, 'AWS::S3::Bucket')).flatMap(
      (b) => (b.Properties?.LifecycleConfiguration as Cfn)?.Rules ?? [],
    );
    expect(rules).toContainEqual(
      expect.objectContaining({
        Id: 'expire-temporary',
        ExpirationInDays: 7,
        TagFilters: [{ Key: TEMPORARY_TAG.key, Value: TEMPORARY_TAG.value }],
      }),
    );
    expect(rules).toContainEqual(expect.objectContaining({ Id: 'expire-logs', ExpirationInDays: 30 }));
  });
});
