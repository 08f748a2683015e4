// (defined in common/ so that read/, which the DVM's activities use, needs nothing from workers/)
export { StartupError } from '../common/errors.js';

// Secrets are never printed, not even a wrong one (a malformed key is still most of a key; a log
// line lives longer than the mistake).
const SECRET_KEY = /private_?key|secret|password|passw(or)?d|token|nsec/i;
/** `scheme://user:password@host`: the password. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*:)[^\s@/?#]*@/gi;

/** True for a setting whose value is a secret: its value is never shown. */
export function isSecretKey(key: PropertyKey | undefined): boolean {
  return typeof key === 'string' && SECRET_KEY.test(key);
}

/** A value for a message: secret keys' values hidden, at any depth, and URLs' passwords as ***. */
export function redact(value: unknown, key?: PropertyKey): unknown {
  if (isSecretKey(key) && value !== undefined && value !== null && value !== '') return hidden(value);
  if (typeof value === 'string') return value.replace(URL_PASSWORD, '$1***@');
  if (Array.isArray(value)) return value.map((v) => redact(v));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  return value;
}

/** A value as a message shows it: JSON, redacted; `(missing)` when there is none. */
export function showValue(value: unknown, key?: PropertyKey): string {
  if (isSecretKey(key) && value !== undefined && value !== null && value !== '') return hidden(value);
  return JSON.stringify(redact(value, key)) ?? '(missing)';
}

function hidden(value: unknown): string {
  // The length says what is wrong with a key of the wrong size without saying the key.
  return typeof value === 'string' ? `(hidden: ${value.length} characters)` : `(hidden: a ${Array.isArray(value) ? 'list' : typeof value})`;
}
