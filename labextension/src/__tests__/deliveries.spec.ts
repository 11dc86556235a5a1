/**
 * How webhooks are shown (README, "Webhooks"): a script's webhook line in the Scripts
 * panel, and a run's deliveries with their attempts in the logs view.
 */
import { IDelivery } from '../api';
import {
  lastDeliveriesLine,
  renderDeliveries,
  webhookLine
} from '../deliveries';
import { formatDate } from '../dom';

import models from './models.json';

const DELIVERY = models.delivery as IDelivery;

describe('webhookLine', () => {
  it('shows the URL and the events', () => {
    const [line] = webhookLine({
      url: 'http://127.0.0.1:9/hook',
      events: ['finished', 'failed'],
      sync: false
    });
    expect(line.textContent).toBe(
      'Webhook: http://127.0.0.1:9/hook (finished, failed)'
    );
    expect(line.querySelector('.jp-scripting-webhook-url')?.textContent).toBe(
      'http://127.0.0.1:9/hook'
    );
  });

  it('says when synchronous runs are POSTed too', () => {
    const [line] = webhookLine({
      url: 'https://example.org/hook',
      events: ['failed'],
      sync: true
    });
    expect(line.textContent).toBe(
      'Webhook: https://example.org/hook (failed) · sync runs too'
    );
    expect(line.getAttribute('title')).toContain('synchronous');
  });

  it('is nothing for a script without a webhook', () => {
    expect(webhookLine(null)).toEqual([]);
  });
});

describe('renderDeliveries', () => {
  it('says so when there are none', () => {
    const node = renderDeliveries([]);
    expect(node.classList).toContain('jp-scripting-no-deliveries');
    expect(node.textContent).toBe('No deliveries.');
  });

  it("shows a pending delivery's URL, event, state, next try and attempts", () => {
    const node = renderDeliveries([DELIVERY]);
    const item = node.querySelector('.jp-scripting-delivery');
    expect(item?.getAttribute('data-delivery-id')).toBe(DELIVERY.deliveryId);
    expect(item?.classList).toContain('jp-scripting-delivery-pending');
    expect(item?.querySelector('.jp-scripting-delivery-url')?.textContent).toBe(
      'https://hooks.example.com/scripting'
    );
    expect(
      item?.querySelector('.jp-scripting-delivery-event')?.textContent
    ).toBe('finished');
    expect(
      item?.querySelector('.jp-scripting-delivery-state')?.textContent
    ).toBe('pending');
    expect(
      item?.querySelector('.jp-scripting-delivery-next')?.textContent
    ).toBe(
      `next try ${formatDate('2026-11-29T10:00:35Z')} · given up ${formatDate('2026-11-30T10:00:05Z')} unless delivered`
    );
    const cells = Array.from(
      item?.querySelectorAll('.jp-scripting-delivery-attempt td') ?? []
    ).map(td => td.textContent);
    expect(cells).toEqual([
      '#1',
      '503the receiver answered 503',
      formatDate('2026-11-29T10:00:05Z'),
      '13 ms',
      'node-1'
    ]);
    expect(
      item?.querySelector('.jp-scripting-delivery-result .jp-scripting-status')
        ?.textContent
    ).toBe('503');
  });

  it('shows the error of an attempt that got no answer, and a delivery not tried yet', () => {
    const node = renderDeliveries([
      {
        ...DELIVERY,
        state: 'failed',
        nextAttemptAt: null,
        attempts: [
          {
            ...DELIVERY.attempts[0],
            statusCode: null,
            error: 'ConnectionRefusedError: [Errno 111] Connection refused'
          }
        ]
      },
      { ...DELIVERY, deliveryId: 'new', attempts: [] }
    ]);
    const [failed, untried] = Array.from(
      node.querySelectorAll('.jp-scripting-delivery')
    );
    expect(
      failed.querySelector('.jp-scripting-delivery-state')?.textContent
    ).toBe('failed');
    expect(failed.querySelector('.jp-scripting-delivery-next')).toBeNull();
    const result = failed.querySelector('.jp-scripting-delivery-result');
    expect(result?.querySelector('.jp-scripting-status')).toBeNull();
    expect(result?.textContent).toBe(
      'ConnectionRefusedError: [Errno 111] Connection refused'
    );
    expect(
      untried.querySelector('.jp-scripting-delivery-no-attempt')?.textContent
    ).toBe('Not tried yet.');
  });
});

describe('lastDeliveriesLine', () => {
  const WEBHOOK = {
    url: 'https://hooks.example.com/scripting',
    events: ['finished' as const, 'failed' as const],
    sync: false
  };

  it('is nothing for a script without a webhook whose runs were never POSTed', () => {
    expect(lastDeliveriesLine(null, [])).toEqual([]);
  });

  it('says "none yet" for a webhook without deliveries', () => {
    const [line] = lastDeliveriesLine(WEBHOOK, []);
    expect(line.textContent).toBe('Last deliveries: none yet');
  });

  it("shows each delivery's state, event, last attempt and next try, newest first", () => {
    const delivered: IDelivery = {
      ...DELIVERY,
      deliveryId: 'delivered',
      state: 'delivered',
      nextAttemptAt: null,
      attempts: [
        DELIVERY.attempts[0],
        {
          ...DELIVERY.attempts[0],
          attempt: 2,
          statusCode: 204,
          error: null,
          at: '2026-11-29T10:00:40Z'
        }
      ]
    };
    const refused: IDelivery = {
      ...DELIVERY,
      deliveryId: 'refused',
      attempts: [
        {
          ...DELIVERY.attempts[0],
          statusCode: null,
          error: 'ConnectionRefusedError: [Errno 111] Connection refused'
        }
      ]
    };
    const untried: IDelivery = { ...DELIVERY, deliveryId: 'new', attempts: [] };
    const [line] = lastDeliveriesLine(null, [delivered, refused, untried]);
    const items = Array.from(
      line.querySelectorAll<HTMLElement>('.jp-scripting-last-delivery')
    );
    expect(items.map(item => item.dataset.deliveryId)).toEqual([
      'delivered',
      'refused',
      'new'
    ]);
    expect(items.map(item => item.textContent)).toEqual([
      `delivered finished · 204 ${formatDate('2026-11-29T10:00:40Z')} (attempt 2)`,
      `pending finished · ConnectionRefusedError: [Errno 111] Connection refused ${formatDate(
        '2026-11-29T10:00:05Z'
      )} · next try ${formatDate('2026-11-29T10:00:35Z')}`,
      `pending finished · not tried yet · next try ${formatDate('2026-11-29T10:00:35Z')}`
    ]);
    expect(items[0].classList).toContain('jp-scripting-delivery-delivered');
    expect(items[0].querySelector('.jp-scripting-status')?.textContent).toBe(
      '204'
    );
  });
});
