/**
 * Retries in the UI (README, "Retries"): a script's setting as a line of the Scripts
 * panel, and which attempt a run was in the logs view.
 */
import { IExecution, IRetries } from './api';
import { h } from './dom';

/** "up to 3 on 500, 502, 504, back-off 30 s"; '' for a script without retries. */
export function retriesText(retries: IRetries | null): string {
  if (!retries) {
    return '';
  }
  const backoff = Number(retries.backoff.toFixed(3));
  return `up to ${retries.max} on ${retries.on.join(', ')}, back-off ${backoff} s`;
}

/** "Retries: up to 3 on 500, 502, 504, back-off 30 s", for a script that has them. */
export function retriesLine(retries: IRetries | null): HTMLElement[] {
  if (!retries) {
    return [];
  }
  return [
    h(
      'div',
      {
        class: 'jp-scripting-retries',
        title:
          'A background run that ends with one of these statuses is queued again; ' +
          'the back-off doubles for each further attempt'
      },
      `Retries: ${retriesText(retries)}`
    )
  ];
}

/**
 * "attempt 2, retry of <id>" for a retry, "retried by <id>" for an attempt that was
 * retried (both for one in between); '' for a run that is neither.
 */
export function attemptText(execution: IExecution): string {
  const parts: string[] = [];
  if (execution.attempt > 1) {
    parts.push(
      execution.retryOf
        ? `attempt ${execution.attempt}, retry of ${execution.retryOf}`
        : `attempt ${execution.attempt}`
    );
  }
  if (execution.retriedBy) {
    parts.push(`retried by ${execution.retriedBy}`);
  }
  return parts.join('; ');
}
