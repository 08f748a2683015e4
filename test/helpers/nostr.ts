// Signed events for tests, made with nostr-tools as a client would make them.
import { finalizeEvent, generateSecretKey, type EventTemplate } from 'nostr-tools/pure';
import type { NostrEvent } from '../../activities/db/store.js';

const key = generateSecretKey();

export function signed(template: Partial<EventTemplate> & { kind: number }, sk = key): NostrEvent {
  return finalizeEvent({ created_at: 1_700_000_000, tags: [], content: '', ...template }, sk);
}
