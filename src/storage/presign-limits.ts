/** How long a presigned upload URL works: light, so `nst --help` reads it without the SDK; the local gate checks it too. */

/** The default: an hour. */
export const DEFAULT_PRESIGN_SECONDS = 3600;
/** SigV4's limit for a presigned URL: 7 days. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
