/**
 * Webhooks in the UI (README, "Webhooks"): a script's webhook as a line of the Scripts
 * panel, and where a run's end was POSTed (its deliveries) in the logs view.
 */
import {
  IDelivery,
  IDeliveryAttempt,
  IWebhook,
  ScriptingClient,
  describe
} from './api';
import { button, formatDate, formatDuration, h, statusBadge } from './dom';

/** "Webhook: https://… (finished, failed)", for a script that has one; else nothing. */
export function webhookLine(webhook: IWebhook | null): HTMLElement[] {
  if (!webhook) {
    return [];
  }
  const events = webhook.events.length ? webhook.events.join(', ') : 'no event';
  return [
    h(
      'div',
      {
        class: 'jp-scripting-webhook',
        title: webhook.sync
          ? "Where the ends of the script's runs are POSTed (synchronous runs' too)"
          : "Where the ends of the script's background runs are POSTed"
      },
      'Webhook: ',
      h('code', { class: 'jp-scripting-webhook-url' }, webhook.url),
      ' ',
      h('span', { class: 'jp-scripting-webhook-events' }, `(${events})`),
      webhook.sync ? ' · sync runs too' : null
    )
  ];
}

/**
 * "Last deliveries:" and one short line per delivery (newest first): its state, event,
 * the last attempt's status or error and time, and when a pending one is tried next.
 * Nothing for a script whose runs were never POSTed and that has no webhook; "none yet"
 * for one that has a webhook but no delivery so far.
 */
export function lastDeliveriesLine(
  webhook: IWebhook | null,
  deliveries: IDelivery[]
): HTMLElement[] {
  if (!deliveries.length) {
    return webhook
      ? [
          h(
            'div',
            { class: 'jp-scripting-last-deliveries' },
            'Last deliveries: ',
            h('span', { class: 'jp-mod-none' }, 'none yet')
          )
        ]
      : [];
  }
  return [
    h(
      'div',
      {
        class: 'jp-scripting-last-deliveries',
        title: "Where the ends of the script's newest runs were POSTed"
      },
      'Last deliveries:',
      h(
        'ul',
        { class: 'jp-scripting-last-delivery-list' },
        ...deliveries.map(shortDelivery)
      )
    )
  ];
}

function shortDelivery(delivery: IDelivery): HTMLElement {
  const last = delivery.attempts[delivery.attempts.length - 1];
  let result: (Node | string | null)[];
  if (!last) {
    result = [' · not tried yet'];
  } else {
    result = [
      ' · ',
      last.statusCode === null ? null : statusBadge(last.statusCode),
      last.statusCode !== null && last.error ? ' ' : null,
      last.error
        ? h('span', { class: 'jp-scripting-delivery-error' }, last.error)
        : null,
      ` ${formatDate(last.at)}`,
      delivery.attempts.length > 1 ? ` (attempt ${last.attempt})` : null
    ];
  }
  return h(
    'li',
    {
      class: `jp-scripting-last-delivery jp-scripting-delivery-${delivery.state}`,
      'data-delivery-id': delivery.deliveryId,
      'data-execution-id': delivery.executionId,
      title: `${delivery.url}, run ${delivery.executionId}`
    },
    h(
      'span',
      {
        class: `jp-scripting-delivery-state jp-scripting-delivery-state-${delivery.state}`
      },
      delivery.state
    ),
    ' ',
    h('span', { class: 'jp-scripting-delivery-event' }, delivery.event),
    ...result,
    delivery.state === 'pending' && delivery.nextAttemptAt
      ? ` · next try ${formatDate(delivery.nextAttemptAt)}`
      : null
  );
}

/**
 * A run's deliveries: per delivery its URL, event and state, when a pending one is
 * tried next, and a row per attempt (number, status or error, time, duration, node).
 * "No deliveries" when the list is empty.
 */
export function renderDeliveries(deliveries: IDelivery[]): HTMLElement {
  if (!deliveries.length) {
    return h(
      'div',
      { class: 'jp-scripting-empty jp-scripting-no-deliveries' },
      'No deliveries.'
    );
  }
  return h(
    'ul',
    { class: 'jp-scripting-delivery-list' },
    ...deliveries.map(renderDelivery)
  );
}

function renderDelivery(delivery: IDelivery): HTMLElement {
  return h(
    'li',
    {
      class: `jp-scripting-delivery jp-scripting-delivery-${delivery.state}`,
      'data-delivery-id': delivery.deliveryId,
      title: `Delivery ${delivery.deliveryId}, written ${formatDate(delivery.createdAt)}`
    },
    h(
      'div',
      { class: 'jp-scripting-delivery-title' },
      h('code', { class: 'jp-scripting-delivery-url' }, delivery.url),
      h('span', { class: 'jp-scripting-delivery-event' }, delivery.event),
      h(
        'span',
        {
          class: `jp-scripting-delivery-state jp-scripting-delivery-state-${delivery.state}`
        },
        delivery.state
      )
    ),
    delivery.state === 'pending'
      ? h(
          'div',
          { class: 'jp-scripting-delivery-next' },
          delivery.nextAttemptAt
            ? `next try ${formatDate(delivery.nextAttemptAt)} · `
            : '',
          `given up ${formatDate(delivery.giveUpAt)} unless delivered`
        )
      : null,
    delivery.attempts.length
      ? h(
          'table',
          { class: 'jp-scripting-delivery-attempts' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['Attempt', 'Result', 'Time', 'Duration', 'Node'].map(label =>
                h('th', {}, label)
              )
            )
          ),
          h('tbody', {}, ...delivery.attempts.map(renderAttempt))
        )
      : h(
          'div',
          { class: 'jp-scripting-delivery-no-attempt' },
          'Not tried yet.'
        )
  );
}

function renderAttempt(attempt: IDeliveryAttempt): HTMLElement {
  return h(
    'tr',
    { class: 'jp-scripting-delivery-attempt' },
    h('td', {}, `#${attempt.attempt}`),
    h(
      'td',
      { class: 'jp-scripting-delivery-result' },
      attempt.statusCode === null ? null : statusBadge(attempt.statusCode),
      attempt.error
        ? h('span', { class: 'jp-scripting-delivery-error' }, attempt.error)
        : null
    ),
    h('td', {}, formatDate(attempt.at)),
    h('td', {}, formatDuration(attempt.durationMs)),
    h('td', {}, attempt.node)
  );
}

/**
 * The deliveries section of one execution in the logs view: one request when it is
 * loaded, and again only when the user asks (attempts go on after the run has ended).
 */
export class DeliveriesView {
  constructor(
    private readonly client: ScriptingClient,
    private readonly scriptId: string,
    private readonly executionId: string
  ) {
    this.content = h(
      'div',
      { class: 'jp-scripting-deliveries-content' },
      'Loading…'
    );
    this.node = h(
      'section',
      { class: 'jp-scripting-deliveries', 'aria-label': 'Webhook deliveries' },
      h(
        'div',
        { class: 'jp-scripting-deliveries-header' },
        h('h3', {}, 'Webhook deliveries'),
        button('Refresh', () => void this.load(), {
          class:
            'jp-Button jp-mod-styled jp-mod-reject jp-scripting-deliveries-refresh',
          title: 'Read the deliveries again'
        })
      ),
      this.content
    );
  }

  /** The section, to be put in the page. */
  readonly node: HTMLElement;

  /** Read the run's deliveries and show them (the server's error in their place). */
  async load(): Promise<void> {
    const loading = ++this.loads;
    try {
      const list = await this.client.listDeliveries(
        this.scriptId,
        this.executionId
      );
      if (loading === this.loads) {
        this.content.replaceChildren(renderDeliveries(list.deliveries));
      }
    } catch (error) {
      if (loading === this.loads) {
        this.content.replaceChildren(
          h(
            'div',
            { class: 'jp-scripting-error', role: 'alert' },
            describe(error, 'Could not read the deliveries')
          )
        );
      }
    }
  }

  private content: HTMLElement;
  /** Counts the loads begun: only the last one's answer is shown. */
  private loads = 0;
}
