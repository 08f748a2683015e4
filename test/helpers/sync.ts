// The Synchronizer's network activities as the integration tests drive them, over local relays.
import { MockActivityEnvironment } from '@temporalio/testing';
import { createNetworkActivities, type NetworkActivities } from '../../activities/network.js';
import type { RelayKnowledge, SpanResult } from '../../common/index.js';
import { localRelayConfig } from './config.js';
import type { TestDatabase } from './db.js';

/** One worker's clearnet activities over the test database: local relays allowed, 700 ms to answer; `env` overrides more of the config. */
export function testNetworkActivities(t: TestDatabase, env: Record<string, string> = {}): NetworkActivities {
  return createNetworkActivities({ config: localRelayConfig(t.url, env), network: 'clearnet', db: t.db });
}

/**
 * The syncWindows activity over [since, until] of one relay, starting with one window of it all;
 * `relay`: what an earlier activity learned of it (as the workflow carries it from one to the next).
 */
export function syncRange(
  acts: NetworkActivities, url: string, since: number, until: number, limit: number, env = new MockActivityEnvironment(), relay?: RelayKnowledge,
): Promise<SpanResult> {
  const width = until - since + 1;
  return env.run(acts.syncWindows, { url, network: 'clearnet' as const, cursor: since - 1, windowSec: width, target: until, limit, maxWindowSec: width, relay });
}
