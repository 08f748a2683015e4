// A bounded HTTP(S) GET for documents from the open network (relay-list APIs, NIP-11): a total
// deadline (so a slow drip cannot hold a worker), a size cap (so a huge body cannot fill its
// memory), a redirect limit (so a loop ends), an address guard on every hop (so a redirect cannot
// lead inside the worker's network), and errors that say which of them tripped.
import http from 'node:http';
import https from 'node:https';
import { BlockedAddressError, guardConnection, guardRedirect, type AddressGuard } from './address-guard.js';

export interface HttpGetOptions {
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  headers?: Record<string, string>;
  /** For proxies (SOCKS5 for overlay networks). */
  agent?: http.Agent;
  signal?: AbortSignal;
  /** Refuses local, private and metadata addresses on every hop, checked on the address connected to (address-guard.ts). Absent: no check. */
  guard?: AddressGuard;
}

export interface HttpResponse {
  status: number;
  contentType: string;
  body: Buffer;
  /** After redirects. */
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** Why a GET gave no usable answer; `code` is short and stable, for counting. */
export class HttpGetError extends Error {
  override name = 'HttpGetError';
  constructor(
    readonly code: 'timeout' | 'too-large' | 'too-many-redirects' | 'bad-url' | 'network' | 'aborted' | 'blocked-address',
    message: string,
  ) {
    super(message);
  }
}

const GUARDED_HTTP = new http.Agent({ keepAlive: false });
const GUARDED_HTTPS = new https.Agent({ keepAlive: false });

export async function httpGet(url: string, options: HttpGetOptions): Promise<HttpResponse> {
  const deadline = Date.now() + options.timeoutMs;
  let current = url;
  for (let hop = 0; ; hop++) {
    const res = await getOnce(current, options, deadline);
    const location = res.headers.location;
    if (res.status >= 300 && res.status < 400 && location) {
      if (hop >= options.maxRedirects) {
        throw new HttpGetError('too-many-redirects', `more than ${options.maxRedirects} redirects (last to ${location.slice(0, 200)})`);
      }
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new HttpGetError('bad-url', `redirect to an invalid URL: ${location.slice(0, 200)}`);
      }
      current = next.toString();
      const refused = guardRedirect(new URL(url), next, options.guard);
      if (refused) throw new HttpGetError('blocked-address', `redirect to ${current.slice(0, 200)}: ${refused.message}`);
      continue;
    }
    return res;
  }
}

function getOnce(url: string, options: HttpGetOptions, deadline: number): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return reject(new HttpGetError('bad-url', `not a URL: ${url.slice(0, 200)}`));
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      return reject(new HttpGetError('bad-url', `not an http(s) URL: ${url.slice(0, 200)}`));
    }
    const guarded = guardConnection(parsed, options.guard, options.agent !== undefined);
    if (guarded.error) return reject(new HttpGetError('blocked-address', `${url.slice(0, 200)}: ${guarded.error.message}`));
    const remaining = deadline - Date.now();
    if (remaining <= 0) return reject(new HttpGetError('timeout', `no complete answer within ${options.timeoutMs} ms`));
    const secure = parsed.protocol === 'https:';
    const get = secure ? https.get : http.get;
    // A guarded connection gets its own agent: a pooled keep-alive socket, opened without the
    // lookup, would be reused without it.
    const agent = guarded.lookup ? (secure ? GUARDED_HTTPS : GUARDED_HTTP) : options.agent;
    const req = get(parsed, { headers: options.headers, agent, lookup: guarded.lookup, signal: options.signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const declared = Number(res.headers['content-length']);
      if (declared > options.maxBytes) {
        clearTimeout(timer);
        req.destroy();
        return reject(new HttpGetError('too-large', `body of ${declared} bytes is over the ${options.maxBytes}-byte cap`));
      }
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          clearTimeout(timer);
          req.destroy();
          reject(new HttpGetError('too-large', `body over the ${options.maxBytes}-byte cap`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks),
          url,
          headers: res.headers,
        });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(new HttpGetError('network', err.message));
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new HttpGetError('timeout', `no complete answer within ${options.timeoutMs} ms`));
    }, remaining);
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.name === 'AbortError') reject(new HttpGetError('aborted', 'cancelled'));
      else if (err instanceof BlockedAddressError) reject(new HttpGetError('blocked-address', `${url.slice(0, 200)}: ${err.message}`));
      else reject(new HttpGetError('network', `${err.code ?? ''} ${err.message}`.trim()));
    });
  });
}
