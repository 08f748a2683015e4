// What the relay-socket tests share: three stored events, and local relays and connections
// opened by a test file, stopped and closed after it.
import { after } from 'node:test';
import { openRelay, type RelayConnection } from '../../activities/relay/relay-socket.js';
import { startLocalRelay, type LocalRelay, type LocalRelayOptions } from './local-relay.js';
import { signed } from './nostr.js';

export const OPEN = { timeoutMs: 1000 };
export const STORED = [
  signed({ kind: 1, content: 'oldest', created_at: 1_700_000_000 }),
  signed({ kind: 1, content: 'middle', created_at: 1_700_000_100 }),
  signed({ kind: 0, content: '{}', created_at: 1_700_000_200 }),
];

/** Call at a test file's top level: its relays and connections end with the file. */
export function relayFixture() {
  const started: Array<{ stop(): Promise<void> }> = [];
  const connections: RelayConnection[] = [];
  after(async () => {
    for (const conn of connections) conn.close();
    await Promise.all(started.map((s) => s.stop()));
  });
  return {
    /** Stopped after the file, as a relay started here is. */
    started,
    async relay(options: LocalRelayOptions): Promise<LocalRelay> {
      const r = await startLocalRelay(options);
      started.push(r);
      return r;
    },
    async open(url: string, options: Partial<Parameters<typeof openRelay>[1]> = {}): Promise<RelayConnection> {
      const conn = await openRelay(url, { ...OPEN, ...options });
      connections.push(conn);
      return conn;
    },
  };
}
