/**
 * Where the pipeline's folders are in a bucket it may share with other uses: a key prefix, put on and taken
 * off at the edges (the object store, the event intake, the notification document).
 */
import { z } from 'zod';
import { NstError } from '../errors.js';

/**
 * The key prefix the whole layout lives under: '' (the bucket's top) or folders ending in '/', such as
 * `art/` or `teams/art/`. The keys the pipeline works with (a spec's, a job.json's) are relative to it. No
 * wildcard characters: the prefix is the IAM scope and the bucket notification's filter.
 */
export const keyPrefixSchema = z
  .string()
  .max(256)
  .regex(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses.
    /^(?:(?!\.{1,2}\/)[^/*?\u0000-\u001f]+\/)*$/,
    "'' or folders ending in '/', such as art/ (no leading '/', no . or .. folder, no * or ?)",
  );

/** A key prefix given by a user (`what` names where: a flag, a prop), checked; INVALID_OPTION otherwise. */
export function parseKeyPrefix(value: string | undefined, what: string): string {
  const parsed = keyPrefixSchema.safeParse(value ?? '');
  if (parsed.success) return parsed.data;
  throw new NstError('INVALID_OPTION', `${what} ${JSON.stringify(value)}: ${parsed.error.issues[0].message}`);
}

/** A bucket's object key as a key of the pipeline under `keyPrefix`; undefined when it lies outside. */
export function pipelineKeyOf(keyPrefix: string, objectKey: string): string | undefined {
  return objectKey.startsWith(keyPrefix) ? objectKey.slice(keyPrefix.length) : undefined;
}
