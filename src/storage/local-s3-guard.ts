/**
 * The gate in front of the local S3 server (local-s3.ts). s3rver serves any unsigned request, accepts
 * browser form POST uploads (no CORS preflight is needed for those, so any web page open while `nst serve`
 * runs could start jobs), does not verify SigV4 signatures at all, and writes a key such as
 * `../../../../tmp/x` outside its data folder. Before s3rver sees a request, this gate:
 *
 * - refuses form POST uploads (multipart/form-data or url-encoded POSTs to the bucket);
 * - refuses object keys with `.` or `..` segments, NUL bytes, or that resolve outside the data folder, and
 *   every bucket but the configured one;
 * - serves only requests whose Authorization header is a valid SigV4 signature with the local credentials
 *   (verified by recomputing it with the SDK's own signer over the same signed headers), dated within 15
 *   minutes, and presigned uploads: a PUT whose query carries a valid SigV4 signature with the local
 *   credentials, within its expiry (`nst submit --presign`). Other presigned requests and signature V2 are
 *   refused: a browser can send a presigned GET without a preflight, while a cross-origin PUT needs one,
 *   which the server, allowing no CORS, refuses.
 *
 * A browser cannot add an Authorization header to a cross-origin request without a CORS preflight, and the
 * server allows no CORS, so a web page cannot drive the server even though the local secret is well known.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import type { KoaContext } from 's3rver';
import { MAX_PRESIGN_SECONDS } from './presign-limits.js';
import { LOCAL_CREDENTIALS } from './s3-client.js';

/** S3's allowed clock skew for a signed request. */
const MAX_SKEW_MS = 15 * 60 * 1000;

type Bytes = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: Bytes): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

/** SHA-256 (and its HMAC) as the signer wants it. */
class Sha256 {
  private readonly hash;
  constructor(secret?: Bytes) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: Bytes): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

const signer = new SignatureV4({
  credentials: LOCAL_CREDENTIALS,
  region: 'us-east-1',
  service: 's3',
  sha256: Sha256,
  // S3 signs the path as sent: no normalisation, no double encoding (as the SDK's S3 client does).
  uriEscapePath: false,
  applyChecksum: false,
});

export interface Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

const refuse = (status: number, code: string, message: string): Refusal => ({ status, code, message });

/** Checks a request; undefined when it may pass to s3rver. */
export async function checkRequest(
  ctx: KoaContext,
  opts: { readonly dataDir: string; readonly bucket: string },
): Promise<Refusal | undefined> {
  return (
    checkHost(ctx) ??
    checkForm(ctx) ??
    checkBulkDelete(ctx) ??
    checkPath(ctx, opts) ??
    (await checkSignature(ctx))
  );
}

/** Loopback names only: a rebound DNS name (a web page's origin) or an S3 virtual host never passes. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function checkHost(ctx: KoaContext): Refusal | undefined {
  if (LOOPBACK_HOSTS.has(ctx.hostname)) return undefined;
  return refuse(
    400,
    'InvalidHost',
    `the local S3 server answers loopback hosts only, not ${ctx.hostname || 'none'}`,
  );
}

/** DeleteObjects names its keys in the body, where the path checks cannot see them; the pipeline never uses it. */
function checkBulkDelete(ctx: KoaContext): Refusal | undefined {
  if (ctx.method === 'POST' && 'delete' in ctx.query)
    return refuse(405, 'MethodNotAllowed', 'DeleteObjects is not accepted by the local S3 server');
  return undefined;
}

function checkForm(ctx: KoaContext): Refusal | undefined {
  const type = ctx.get('content-type').toLowerCase();
  if (
    ctx.method === 'POST' &&
    (type.startsWith('multipart/form-data') || type.startsWith('application/x-www-form-urlencoded'))
  ) {
    return refuse(405, 'MethodNotAllowed', 'form POST uploads are not accepted by the local S3 server');
  }
  return undefined;
}

/** The raw (still URL-encoded) path of the request. */
const rawPath = (ctx: KoaContext) => (ctx.req.url ?? '/').split('?')[0];

function checkPath(ctx: KoaContext, opts: { dataDir: string; bucket: string }): Refusal | undefined {
  const copySource = ctx.get('x-amz-copy-source');
  for (const target of [rawPath(ctx), ...(copySource ? [`/${copySource.replace(/^\//, '')}`] : [])]) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(target.split('?')[0]);
    } catch {
      return refuse(400, 'InvalidURI', 'the request path is not valid URL encoding');
    }
    const [, bucket = '', ...rest] = decoded.split('/');
    if (bucket === '' && rest.length === 0) continue; // the service (ListBuckets)
    if (bucket !== opts.bucket)
      return refuse(404, 'NoSuchBucket', `the local S3 server serves only the bucket ${opts.bucket}`);
    const key = rest.join('/');
    if (key === '') continue;
    const unsafe =
      key.includes('\0') ||
      key.split('/').some((segment) => segment === '.' || segment === '..') ||
      !isInside(path.join(opts.dataDir, bucket), path.resolve(opts.dataDir, bucket, key));
    if (unsafe) {
      return refuse(
        400,
        'InvalidObjectName',
        `the key ${JSON.stringify(key)} has a "." or ".." segment or leaves the data folder`,
      );
    }
  }
  return undefined;
}

const isInside = (dir: string, file: string) => {
  const relative = path.relative(path.resolve(dir), file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
};

interface ParsedAuthorization {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

/** A SigV4 credential scope, `<access key>/<yyyymmdd>/<region>/<service>/aws4_request`, as its parts. */
type Credential = Pick<ParsedAuthorization, 'accessKeyId' | 'date' | 'region' | 'service'>;
const CREDENTIAL = String.raw`([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request`;
const CREDENTIAL_ONLY = new RegExp(`^${CREDENTIAL}$`);
const AUTHORIZATION = new RegExp(
  String.raw`^AWS4-HMAC-SHA256 Credential=${CREDENTIAL},\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$`,
);

function parseAuthorization(header: string): ParsedAuthorization | undefined {
  const match = AUTHORIZATION.exec(header.trim());
  if (!match) return undefined;
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match;
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

function parseCredential(value: string): Credential | undefined {
  const match = CREDENTIAL_ONLY.exec(value);
  if (!match) return undefined;
  const [, accessKeyId, date, region, service] = match;
  return { accessKeyId, date, region, service };
}

/** Refuses a credential that is not the local one, or not for S3. */
function checkCredential({ accessKeyId, service }: Credential): Refusal | undefined {
  if (accessKeyId !== LOCAL_CREDENTIALS.accessKeyId) return denied(`unknown access key ${accessKeyId}`);
  if (service !== 's3') return denied(`the signature is for the service ${service}, not s3`);
  return undefined;
}

/** The request's values of the headers a signature names; refused when one is missing. */
function signedHeaderValues(
  ctx: KoaContext,
  names: readonly string[],
): { headers: Record<string, string> } | { refused: Refusal } {
  const headers: Record<string, string> = {};
  for (const name of names) {
    const value = ctx.req.headers[name];
    if (value === undefined) return { refused: denied(`the signed header ${name} is missing`) };
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return { headers };
}

/** Whether a recomputed signature is the one given, compared in constant time. */
const sameSignature = (expected: string, given: string) =>
  expected.length === given.length && timingSafeEqual(Buffer.from(expected), Buffer.from(given));

/** `20240102T030405Z` as a Date. */
function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

const denied = (why: string) => refuse(403, 'AccessDenied', `request refused: ${why}`);

/** The query parameters of a SigV4 presigned URL that carry its signature rather than the request's. */
const PRESIGN_PARAMS = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
];
const PAYLOAD_HASH_PARAM = 'X-Amz-Content-Sha256';

async function checkSignature(ctx: KoaContext): Promise<Refusal | undefined> {
  if (
    Object.keys(ctx.query).some(
      (q) => /^x-amz-(signature|credential|algorithm)$/i.test(q) || q === 'Signature',
    )
  ) {
    return ctx.method === 'PUT' && typeof ctx.query['X-Amz-Signature'] === 'string'
      ? checkPresignedUpload(ctx)
      : denied('presigned URLs are accepted for uploads (PUT) only; sign the Authorization header (SigV4)');
  }
  const header = ctx.get('authorization');
  if (!header) return denied('the request is not signed (SigV4 with the local credentials is required)');
  const auth = parseAuthorization(header);
  if (!auth) return denied('the Authorization header is not a SigV4 (AWS4-HMAC-SHA256) signature');
  const wrongCredential = checkCredential(auth);
  if (wrongCredential) return wrongCredential;
  for (const required of ['host', 'x-amz-date', 'x-amz-content-sha256'])
    if (!auth.signedHeaders.includes(required)) return denied(`the signature does not cover ${required}`);
  const signingDate = parseAmzDate(ctx.get('x-amz-date'));
  if (!signingDate || !ctx.get('x-amz-date').startsWith(auth.date))
    return denied('x-amz-date is missing or does not match the credential scope');
  if (Math.abs(Date.now() - signingDate.getTime()) > MAX_SKEW_MS)
    return denied('the request time is more than 15 minutes from the server time');

  const signedHeaders = signedHeaderValues(ctx, auth.signedHeaders);
  if ('refused' in signedHeaders) return signedHeaders.refused;
  const { headers } = signedHeaders;
  const signed = await signer.sign(
    {
      method: ctx.method,
      protocol: 'http:',
      hostname: 'localhost',
      path: rawPath(ctx),
      query: ctx.query,
      headers,
    },
    { signingDate, signingRegion: auth.region, signableHeaders: new Set(auth.signedHeaders) },
  );
  const expected = parseAuthorization(String(signed.headers.authorization));
  const ok =
    expected !== undefined &&
    expected.signedHeaders.join(';') === auth.signedHeaders.join(';') &&
    sameSignature(expected.signature, auth.signature);
  return ok ? undefined : denied('the signature does not match (sign with the local credentials)');
}

/**
 * A presigned upload: its query's SigV4 signature recomputed with the SDK's signer over the same request
 * (path, the other query parameters, the signed headers), the URL not yet expired.
 */
async function checkPresignedUpload(ctx: KoaContext): Promise<Refusal | undefined> {
  const param = (name: string) => {
    const value = ctx.query[name];
    return typeof value === 'string' ? value : undefined;
  };
  if (param('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return denied('the presigned URL is not SigV4');
  const credential = parseCredential(param('X-Amz-Credential') ?? '');
  if (!credential) return denied('the presigned URL has no valid X-Amz-Credential');
  const wrongCredential = checkCredential(credential);
  if (wrongCredential) return wrongCredential;
  const { date, region } = credential;
  const signingDate = parseAmzDate(param('X-Amz-Date') ?? '');
  const expiresIn = Number(param('X-Amz-Expires'));
  if (!signingDate || !param('X-Amz-Date')?.startsWith(date))
    return denied('X-Amz-Date is missing or does not match the credential scope');
  if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_PRESIGN_SECONDS)
    return denied(`X-Amz-Expires is not 1 to ${MAX_PRESIGN_SECONDS} seconds`);
  if (signingDate.getTime() - Date.now() > MAX_SKEW_MS)
    return denied('the presigned URL is dated in the future');
  if (Date.now() > signingDate.getTime() + expiresIn * 1000) return denied('the presigned URL has expired');
  const signedHeaders = (param('X-Amz-SignedHeaders') ?? '').split(';');
  if (!signedHeaders.includes('host')) return denied('the signature does not cover host');
  // As S3: an x-amz-* header (metadata above all) the URL's signer did not sign is not the holder's to add.
  const unsigned = Object.keys(ctx.req.headers).find(
    (name) => name.startsWith('x-amz-') && !signedHeaders.includes(name),
  );
  if (unsigned) return denied(`the header ${unsigned} is not signed by the presigned URL`);
  const values = signedHeaderValues(ctx, signedHeaders);
  if ('refused' in values) return values.refused;
  const { headers } = values;
  // The payload hash rides in the query (UNSIGNED-PAYLOAD); the signer reads it from a header, which it
  // hoists back into the query under the same name.
  const { [PAYLOAD_HASH_PARAM]: payloadHash, ...query } = Object.fromEntries(
    Object.entries(ctx.query).filter(([name]) => !PRESIGN_PARAMS.includes(name)),
  );
  if (typeof payloadHash === 'string') headers[PAYLOAD_HASH_PARAM] = payloadHash;
  const presigned = await signer.presign(
    { method: ctx.method, protocol: 'http:', hostname: 'localhost', path: rawPath(ctx), query, headers },
    {
      signingDate,
      expiresIn,
      signingRegion: region,
      signableHeaders: new Set(signedHeaders),
      unhoistableHeaders: new Set(signedHeaders),
    },
  );
  const expected = String(presigned.query?.['X-Amz-Signature'] ?? '');
  const given = param('X-Amz-Signature') ?? '';
  const ok =
    presigned.query?.['X-Amz-SignedHeaders'] === param('X-Amz-SignedHeaders') &&
    sameSignature(expected, given);
  return ok
    ? undefined
    : denied("the presigned URL's signature does not match (sign with the local credentials)");
}
