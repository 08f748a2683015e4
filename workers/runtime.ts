// The process's one Temporal Runtime, installed before any NativeConnection or Worker is made (the
// SDK makes a default one at the first, and refuses to install another after it): its logger is
// the process's (workers/logging.ts), the SDK's native logs forwarded to it, and, when metrics
// are on (config `metrics`), its own metrics served on a free loopback port that
// workers/metrics-server.ts merges into the process's /metrics.
import { IllegalStateError, Runtime } from '@temporalio/worker';
import type { Config } from '../common/config.js';
import { freePort } from './embedded-postgres.js';
import type { BigBrotrLogger } from './logging.js';

let sdkAddress: string | undefined;

export async function installRuntime(config: Pick<Config, 'metrics'>, logger: BigBrotrLogger): Promise<Runtime> {
  const address = config.metrics.port === 0 ? undefined : `127.0.0.1:${await freePort()}`;
  try {
    const runtime = Runtime.install({
      logger,
      telemetryOptions: {
        // The SDK's native side (its connection to the server, its pollers): warnings and errors.
        logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
        ...(address ? { metrics: { prometheus: { bindAddress: address } } } : {}),
      },
    });
    sdkAddress = address;
    return runtime;
  } catch (err) {
    // The SDK made its default one already (the launcher's downloaded dev server does, through
    // @temporalio/testing): the stack still runs, with the SDK's default logger and no SDK metrics.
    if (!(err instanceof IllegalStateError)) throw err;
    logger.warn('the Temporal runtime was made before ours: SDK logs keep its default format, and /metrics has no temporal_ metrics');
    return Runtime.instance();
  }
}

/** Where this process's Runtime serves the SDK's metrics (undefined: nowhere). */
export function sdkMetricsAddress(): string | undefined {
  return sdkAddress;
}
