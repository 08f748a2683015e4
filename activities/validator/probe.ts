// The Validator's probe of a candidate, on its network's task queue (workflows/validator.ts,
// validateCandidate): does it speak NIP-01?
import { cancellationSignal } from '@temporalio/activity';
import type { Network, ProbeOutcome } from '../../common/index.js';
import { openRelay, probeRead, RelayError, type ReadProbe } from '../relay/relay-socket.js';
import type { NetworkContext } from '../shared/network-context.js';
import { metrics, reasonCode } from '../shared/metrics.js';

export const createProbeActivities = ({ network, timeout, agent, unreachable, guard }: NetworkContext) => {
  /** The probe's verdict counted: valid, skipped, or why it is invalid (the reason's code). */
  const counted = (o: ProbeOutcome): ProbeOutcome => {
    metrics.validatorProbes.inc({ network, outcome: o.verdict === 'invalid' ? reasonCode('bigbrotr_validator_probes_total', o.reason) : o.verdict });
    return o;
  };
  return {
  /**
   * The Validator's probe: open the WebSocket and send a REQ with `limit: 1`. A relay that
   * answers as NIP-01 says (EOSE after zero or more EVENTs) or asks for NIP-42 authentication
   * (AUTH, or CLOSED "auth-required:") is valid; a NOTICE alone, another CLOSED, silence or a
   * failed connection is not. A dead relay is an answer, not an error: it is returned.
   */
  async probeRelay(q: { url: string; network: Network }): Promise<ProbeOutcome> {
    const { url } = q;
    if (q.network !== network) throw new Error(`a ${q.network} relay was sent to the ${network} queue: ${url}`);
    if (unreachable) return counted({ url, verdict: 'skipped', reason: unreachable });
    let conn;
    try {
      conn = await openRelay(url, { timeoutMs: timeout, agent, signal: cancellationSignal(), guard });
    } catch (err) {
      if (err instanceof RelayError) return counted({ url, verdict: 'invalid', reason: `${err.code}: ${err.message}` });
      throw err;
    }
    try {
      const read = await probeRead(conn, { timeoutMs: timeout });
      const valid = read.answer === 'eose' || read.answer === 'auth' || read.answer === 'auth-required';
      return counted({ url, verdict: valid ? 'valid' : 'invalid', reason: describeRead(read), rttOpenMs: conn.rttOpenMs });
    } catch (err) {
      if (err instanceof RelayError) return counted({ url, verdict: 'invalid', reason: `${err.code}: ${err.message}`, rttOpenMs: conn.rttOpenMs });
      throw err;
    } finally {
      conn.close();
    }
  },
  };
};

function describeRead(r: ReadProbe): string {
  const text = r.message ? ` "${r.message.slice(0, 200)}"` : '';
  switch (r.answer) {
    case 'eose':
      return `eose: answered a REQ with ${r.events} event(s) and EOSE`;
    case 'auth':
      return `auth: asks for NIP-42 authentication${text}`;
    case 'auth-required':
      return `auth-required: closed the REQ${text}`;
    case 'closed':
      return `closed: closed the REQ${text}`;
    case 'notice-only':
      return `notice-only: answered the REQ with a NOTICE only${text}`;
    case 'timeout':
      return 'timeout: no answer to the REQ';
  }
}
