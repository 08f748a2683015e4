// The Temporal Schedule that starts the Refresher: visible, pausable and triggerable in the Web
// UI's Schedules page. Made once, then brought in line with the config at every start (interval
// and task queue); a pause an operator set there is kept.
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptionsAction } from '@temporalio/client';
import type { Config } from './config.js';

export const REFRESHER_SCHEDULE = 'refresher';

export type ScheduleOutcome = 'schedule created' | 'schedule updated' | 'schedule unchanged';

export async function ensureRefresherSchedule(client: Client, config: Config): Promise<ScheduleOutcome> {
  const action: ScheduleOptionsAction = {
    type: 'startWorkflow',
    workflowType: 'refresher',
    // Each run gets the schedule's ID plus its start time: one run's history per refresh.
    workflowId: 'refresher',
    taskQueue: config.temporal.task_queue,
    args: [{}],
  };
  const every = config.refresher.interval;
  try {
    await client.schedule.create({
      scheduleId: REFRESHER_SCHEDULE,
      spec: { intervals: [{ every }] },
      action,
      // A refresh still running when the next is due: skip the next (the running one catches up).
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      // The first refresh now, not an interval from now: `npm start` shows analytics at once.
      state: { triggerImmediately: true, note: 'starts the Refresher (analytics tables); interval: config refresher.interval' },
    });
    return 'schedule created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const handle = client.schedule.getHandle(REFRESHER_SCHEDULE);
  const current = await handle.describe();
  const interval = current.spec.intervals?.[0];
  const sameInterval = current.spec.intervals?.length === 1 && interval !== undefined && Number(interval.every) === every;
  const sameQueue = current.action.type === 'startWorkflow' && current.action.taskQueue === action.taskQueue;
  if (sameInterval && sameQueue) return 'schedule unchanged';
  await handle.update((prev) => ({ ...prev, spec: { intervals: [{ every }] }, action }));
  return 'schedule updated';
}
