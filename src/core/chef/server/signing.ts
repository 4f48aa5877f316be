/**
 * Chef's request signing (mixlib-authentication's X-Ops-Sign protocol), with
 * node:crypto only:
 *   - 1.3: sha256 hashes; the canonical string includes X-Ops-Sign and
 *     X-Ops-Server-API-Version and is signed with RSA-SHA256 (PKCS#1 v1.5).
 *   - 1.1: sha1 hashes of the path, the body and the user ID; the canonical
 *     string is RSA "private-encrypted" (PKCS#1 v1.5 type 1 padding, no digest info).
 *   - 1.0: as 1.1 but the user ID is not hashed.
 * The signature goes base64 into X-Ops-Authorization-1..n, 60 characters each.
 */
import * as crypto from 'node:crypto';

export type SignVersion = '1.0' | '1.1' | '1.3';
export const SIGN_VERSIONS: readonly SignVersion[] = ['1.3', '1.1', '1.0'];

export interface SignInput {
  method: string;
  /** The URL path, without query string (e.g. `/organizations/x/nodes/web1`). */
  path: string;
  /** The exact bytes sent (the gzip bytes when the body is gzipped); empty for none. */
  body?: Buffer | string;
  userId: string;
  /** PEM private key (PKCS#1 or PKCS#8) or a KeyObject. */
  key: crypto.KeyObject | string;
  version: SignVersion;
  /** Request time; the header carries it to the second. */
  time: Date;
  /** Sent as X-Ops-Server-API-Version; part of the 1.3 canonical string. */
  serverApiVersion?: string;
}

const b64 = (algorithm: 'sha1' | 'sha256', data: Buffer | string) => crypto.createHash(algorithm).update(data).digest('base64');

/** `2026-12-01T05:59:02Z`: ISO 8601 to the second, as Chef wants it. */
export function chefTimestamp(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** mixlib-authentication's canonical path: repeated slashes squeezed, no trailing slash (except `/`). */
export function canonicalPath(path: string): string {
  const p = path.replace(/\/+/g, '/');
  return p.length > 1 ? p.replace(/\/$/, '') : p;
}

/** The string that is signed (exported for tests and for debugging a rejected signature). */
export function canonicalRequest(input: Omit<SignInput, 'key'>): string {
  const method = input.method.toUpperCase();
  const path = canonicalPath(input.path);
  const body = input.body ?? '';
  const timestamp = chefTimestamp(input.time);
  if (input.version === '1.3') {
    return [
      `Method:${method}`,
      `Path:${path}`,
      `X-Ops-Content-Hash:${b64('sha256', body)}`,
      `X-Ops-Sign:version=1.3`,
      `X-Ops-Timestamp:${timestamp}`,
      `X-Ops-UserId:${input.userId}`,
      `X-Ops-Server-API-Version:${input.serverApiVersion ?? '1'}`,
    ].join('\n');
  }
  const userId = input.version === '1.1' ? b64('sha1', input.userId) : input.userId;
  return [
    `Method:${method}`,
    `Hashed Path:${b64('sha1', path)}`,
    `X-Ops-Content-Hash:${b64('sha1', body)}`,
    `X-Ops-Timestamp:${timestamp}`,
    `X-Ops-UserId:${userId}`,
  ].join('\n');
}

/** The authentication headers of one request. */
export function signRequest(input: SignInput): Record<string, string> {
  const canonical = canonicalRequest(input);
  const key = typeof input.key === 'string' ? crypto.createPrivateKey(input.key) : input.key;
  const signature =
    input.version === '1.3'
      ? crypto.sign('sha256', Buffer.from(canonical), key)
      : crypto.privateEncrypt({ key, padding: crypto.constants.RSA_PKCS1_PADDING }, Buffer.from(canonical));
  const headers: Record<string, string> = {
    'X-Ops-Sign': input.version === '1.3' ? 'algorithm=sha256;version=1.3' : `algorithm=sha1;version=${input.version}`,
    'X-Ops-UserId': input.userId,
    'X-Ops-Timestamp': chefTimestamp(input.time),
    'X-Ops-Content-Hash': b64(input.version === '1.3' ? 'sha256' : 'sha1', input.body ?? ''),
  };
  const encoded = signature.toString('base64');
  for (let i = 0, n = 1; i < encoded.length; i += 60, n++) headers[`X-Ops-Authorization-${n}`] = encoded.slice(i, i + 60);
  return headers;
}
