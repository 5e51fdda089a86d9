/**
 * ListObjectsV2 paging for the local S3 server. s3rver 3.7 enciphers its continuation tokens with DES,
 * which OpenSSL 3 (Node.js 17 and later) refuses, so every listing longer than a page (1000 keys) answered
 * 500: in `nst serve`, the sweep, the replay and `nst status` failed once outputs/ held a few hundred
 * jobs. No maintained fork fixes it, so this middleware pages V2 listings itself on s3rver's V1 listing,
 * which pages by a marker (a key) and needs no token: a V2 request becomes a V1 request whose marker is
 * the key its token names, and the V1 answer gets V2's fields, with a token of our own.
 *
 * It sits just before s3rver's router, inside the serializer that writes ctx.body as XML, so it reads and
 * changes the answer as the object the router made.
 */
import type { KoaContext } from 's3rver';

/** Our continuation tokens: the key the next page starts after, in base64url. */
const TOKEN_PREFIX = 'nst1:';
const encodeToken = (key: string) => Buffer.from(`${TOKEN_PREFIX}${key}`, 'utf8').toString('base64url');
function decodeToken(token: string): string | undefined {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  return text.startsWith(TOKEN_PREFIX) ? text.slice(TOKEN_PREFIX.length) : undefined;
}

/** What s3rver's V1 listing answers (the part this middleware reads and rewrites). */
interface V1Listing {
  Marker?: string;
  NextMarker?: string;
  IsTruncated?: boolean;
  Contents?: readonly { readonly Key: string }[];
  CommonPrefixes?: readonly { readonly Prefix: string }[];
  [field: string]: unknown;
}

const single = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** `GET /<bucket>?list-type=2...`, path-style (the local server has no virtual-host buckets). */
const isV2Listing = (ctx: KoaContext) =>
  ctx.method === 'GET' && single(ctx.query['list-type']) === '2' && /^\/[^/]+\/?$/.test(ctx.path);

export function pagedListings() {
  return async (ctx: KoaContext, next: () => Promise<void>): Promise<void> => {
    if (!isV2Listing(ctx)) return next();
    const { 'list-type': _, 'continuation-token': token, 'start-after': startAfter, ...rest } = ctx.query;
    const continuation = single(token);
    const after = continuation === undefined ? single(startAfter) : decodeToken(continuation);
    if (continuation !== undefined && after === undefined) {
      ctx.status = 400;
      ctx.body = {
        Error: { Code: 'InvalidArgument', Message: 'The continuation token provided is incorrect' },
      };
      return;
    }
    ctx.query = { ...rest, ...(after ? { marker: after } : {}) };
    await next();
    const listing = (ctx.body as { ListBucketResult?: V1Listing } | undefined)?.ListBucketResult;
    if (ctx.status === 200 && listing) ctx.body = { ListBucketResult: asV2(listing, continuation, after) };
  };
}

/** The V1 answer as V2's: KeyCount, the tokens, StartAfter; no markers. */
function asV2(listing: V1Listing, continuation: string | undefined, after: string | undefined) {
  const { Marker: _, NextMarker, ...fields } = listing;
  const contents = listing.Contents ?? [];
  const prefixes = listing.CommonPrefixes ?? [];
  const last = NextMarker ?? contents.at(-1)?.Key ?? prefixes.at(-1)?.Prefix;
  return {
    ...fields,
    ...(continuation === undefined
      ? after
        ? { StartAfter: after }
        : {}
      : { ContinuationToken: continuation }),
    ...(listing.IsTruncated && last !== undefined ? { NextContinuationToken: encodeToken(last) } : {}),
    KeyCount: contents.length + prefixes.length,
  };
}
