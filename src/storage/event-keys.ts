/**
 * Object keys in S3 event notifications are form-URL-encoded (application/x-www-form-urlencoded, as
 * Java's URLEncoder writes it): a space becomes '+', every byte of UTF-8 outside [A-Za-z0-9.*_-] becomes
 * %XX, except '/', which S3 leaves as is. "red flower (1)+.jpg" arrives as "red+flower+%281%29%2B.jpg".
 */

/** The key as S3 writes it into an event record. */
export function encodeEventKey(key: string): string {
  return key
    .split('/')
    .map((segment) =>
      encodeURIComponent(segment)
        .replace(/[!'()~]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`)
        .replace(/%20/g, '+'),
    )
    .join('/');
}

/** The object key of an event record. '+' is a space; a literal '+' arrives as %2B. */
export function decodeEventKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}
