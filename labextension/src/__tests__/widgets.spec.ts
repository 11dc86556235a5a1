/**
 * The Run and Logs tabs against a fake server: they free the object URLs of what they
 * showed (when it is replaced, and when the tab closes), and a tab opened for a script
 * that no longer exists (as on a reload) shows the server's error. The logs view shows a
 * finished run's webhook deliveries.
 */
import { IDelivery, IExecution, IScript } from '../api';
import { LogsWidget } from '../logs';
import { IScriptActions, RunWidget } from '../run';

import {
  IObjectUrlLog,
  ISent,
  clientWith,
  deferred,
  installObjectUrls,
  json
} from './fakes';
import models from './models.json';

const SCRIPT = models.script as IScript;
const EXECUTION = models.execution as IExecution;
const DELIVERY = models.delivery as IDelivery;
const RETRIED = models.retriedExecution as IExecution;
const PNG = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);

const actions: IScriptActions = {
  openExecutedNotebook: () => undefined,
  openLogs: () => undefined
};

function png(): Response {
  return new Response(PNG, {
    headers: {
      'Content-Type': 'image/png',
      'X-Execution-Id': EXECUTION.executionId,
      'X-Execution-Status': '200'
    }
  });
}

function notFound(): Response {
  return json(models.error, 404);
}

/** Let the requests begun without being awaited (and their rendering) settle. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

/** The path of a request below `/scripting/`. */
function route(sent: ISent): string {
  return new URL(sent.url).pathname.replace(/^.*\/scripting\//, '');
}

let objectUrls: IObjectUrlLog;

beforeEach(() => {
  objectUrls = installObjectUrls();
});

afterEach(() => {
  objectUrls.uninstall();
});

describe('RunWidget', () => {
  it("takes the script's current name from the server", async () => {
    const { client } = clientWith(() => json({ ...SCRIPT, name: 'renamed' }));
    const widget = new RunWidget(
      client,
      { scriptId: SCRIPT.scriptId, name: 'old' },
      actions
    );
    await widget.ready;
    expect(widget.script.name).toBe('renamed');
    expect(widget.title.label).toBe('Run · renamed');
    widget.dispose();
  });

  it("shows the server's error for a script that no longer exists", async () => {
    const { client } = clientWith(notFound);
    const widget = new RunWidget(
      client,
      { scriptId: SCRIPT.scriptId, name: 'gone' },
      actions
    );
    await widget.ready;
    const error = widget.node.querySelector(
      '.jp-scripting-result .jp-scripting-error'
    );
    expect(error?.textContent).toBe(
      `Could not read the script: 404 Not Found: ${models.error.message}`
    );
    expect(widget.title.label).toBe('Run · gone');
    widget.dispose();
  });

  it("revokes an image answer's object URL when the next answer replaces it and on dispose", async () => {
    const { client } = clientWith(sent =>
      route(sent).endsWith('/run') ? png() : json(SCRIPT)
    );
    const widget = new RunWidget(client, SCRIPT, actions);
    await widget.ready;

    await widget.run();
    const image = widget.node.querySelector<HTMLImageElement>(
      '.jp-scripting-body-image'
    );
    expect(image?.src).toBe('blob:fake-1');
    expect(objectUrls.live()).toEqual(['blob:fake-1']);

    await widget.run();
    expect(objectUrls.revoked).toEqual(['blob:fake-1']);
    expect(objectUrls.live()).toEqual(['blob:fake-2']);

    widget.dispose();
    expect(objectUrls.live()).toEqual([]);
    expect(objectUrls.revoked).toEqual(['blob:fake-1', 'blob:fake-2']);
  });

  it('makes no object URL for an answer that comes after it was closed', async () => {
    const answer = deferred<Response>();
    const { client } = clientWith(sent =>
      route(sent).endsWith('/run') ? answer.promise : json(SCRIPT)
    );
    const widget = new RunWidget(client, SCRIPT, actions);
    await widget.ready;
    const running = widget.run();
    widget.dispose();
    answer.resolve(png());
    await running;
    expect(objectUrls.live()).toEqual([]);
  });
});

describe('LogsWidget', () => {
  function logsClient(
    content: (sent: ISent) => Response | Promise<Response>,
    deliveries: IDelivery[] = []
  ) {
    return clientWith(sent => {
      const path = route(sent);
      if (path.endsWith('/deliveries')) {
        return json({ executionId: EXECUTION.executionId, deliveries });
      }
      if (path.includes('/execution/')) {
        return content(sent);
      }
      if (path.startsWith('log/')) {
        return json({ filteredLogs: [EXECUTION], moreElements: false });
      }
      return json(SCRIPT);
    });
  }

  it("revokes the shown execution's object URL when another is shown and on dispose", async () => {
    const { client } = logsClient(png);
    const widget = new LogsWidget(client, SCRIPT, actions);
    await widget.ready;
    expect(widget.node.querySelectorAll('.jp-scripting-log-row')).toHaveLength(
      1
    );

    await widget.showExecution(EXECUTION);
    expect(
      widget.node.querySelector<HTMLImageElement>('.jp-scripting-body-image')
        ?.src
    ).toBe('blob:fake-1');
    await widget.showExecution(EXECUTION);
    expect(objectUrls.revoked).toEqual(['blob:fake-1']);

    widget.dispose();
    expect(objectUrls.live()).toEqual([]);
  });

  it('shows only the execution chosen last, whatever answers first', async () => {
    const first = deferred<Response>();
    const answers = [first.promise, Promise.resolve(png())];
    const { client } = logsClient(() => answers.shift() ?? notFound());
    const widget = new LogsWidget(client, SCRIPT, actions);
    await widget.ready;

    const slow = widget.showExecution(EXECUTION);
    await widget.showExecution({ ...EXECUTION, executionId: 'second' });
    first.resolve(png());
    await slow;
    const header = widget.node.querySelector('.jp-scripting-log-detail-header');
    expect(header?.textContent).toContain('Execution second');
    expect(objectUrls.created).toEqual(['blob:fake-1']);
    widget.dispose();
    expect(objectUrls.live()).toEqual([]);
  });

  it("shows a finished execution's deliveries below its answer, read once", async () => {
    const delivered: IDelivery = {
      ...DELIVERY,
      deliveryId: 'second',
      url: 'https://example.org/hook',
      state: 'delivered',
      nextAttemptAt: null,
      attempts: [
        ...DELIVERY.attempts,
        {
          attempt: 2,
          at: '2026-11-29T10:00:35Z',
          node: 'node-2',
          statusCode: 204,
          error: null,
          durationMs: 8
        }
      ]
    };
    const { client, sent } = logsClient(png, [DELIVERY, delivered]);
    const widget = new LogsWidget(client, SCRIPT, actions);
    await widget.ready;
    await widget.showExecution(EXECUTION);
    await settle();

    const reads = sent.filter(s => route(s).endsWith('/deliveries'));
    expect(reads.map(route)).toEqual([
      `log/script/${SCRIPT.scriptId}/execution/${EXECUTION.executionId}/deliveries`
    ]);
    const section = widget.node.querySelector(
      '.jp-scripting-log-detail .jp-scripting-deliveries'
    );
    const items = Array.from(
      section?.querySelectorAll('.jp-scripting-delivery') ?? []
    );
    expect(
      items.map(i => i.querySelector('.jp-scripting-delivery-url')?.textContent)
    ).toEqual([
      'https://hooks.example.com/scripting',
      'https://example.org/hook'
    ]);
    expect(
      items.map(
        i => i.querySelector('.jp-scripting-delivery-state')?.textContent
      )
    ).toEqual(['pending', 'delivered']);
    const attempts = items[1].querySelectorAll(
      '.jp-scripting-delivery-attempt'
    );
    expect(attempts).toHaveLength(2);
    expect(attempts[1].textContent).toContain('#2');
    expect(attempts[1].querySelector('.jp-scripting-status')?.textContent).toBe(
      '204'
    );

    // Refresh reads them again (attempts go on after the run has ended).
    section
      ?.querySelector<HTMLButtonElement>('.jp-scripting-deliveries-refresh')
      ?.click();
    await settle();
    expect(sent.filter(s => route(s).endsWith('/deliveries'))).toHaveLength(2);
    widget.dispose();
  });

  it('says so when a run has no deliveries, and shows an error reading them', async () => {
    const { client } = logsClient(png);
    const widget = new LogsWidget(client, SCRIPT, actions);
    await widget.ready;
    await widget.showExecution(EXECUTION);
    await settle();
    expect(
      widget.node.querySelector('.jp-scripting-no-deliveries')?.textContent
    ).toBe('No deliveries.');
    widget.dispose();

    const failing = clientWith(sent => {
      const path = route(sent);
      if (path.endsWith('/deliveries')) {
        return notFound();
      }
      if (path.includes('/execution/')) {
        return png();
      }
      return path.startsWith('log/')
        ? json({ filteredLogs: [EXECUTION], moreElements: false })
        : json(SCRIPT);
    });
    const other = new LogsWidget(failing.client, SCRIPT, actions);
    await other.ready;
    await other.showExecution(EXECUTION);
    await settle();
    expect(
      other.node.querySelector('.jp-scripting-deliveries .jp-scripting-error')
        ?.textContent
    ).toBe(
      `Could not read the deliveries: 404 Not Found: ${models.error.message}`
    );
    expect(other.node.querySelector('.jp-scripting-body-image')).not.toBeNull();
    other.dispose();
  });

  it("shows a retried run's attempt in its row and what it retried above its answer", async () => {
    const { client } = clientWith(sent => {
      const path = route(sent);
      if (path.endsWith('/deliveries')) {
        return json({ executionId: RETRIED.executionId, deliveries: [] });
      }
      if (path.includes('/execution/')) {
        return png();
      }
      return path.startsWith('log/')
        ? json({ filteredLogs: [RETRIED, EXECUTION], moreElements: false })
        : json(SCRIPT);
    });
    const widget = new LogsWidget(client, SCRIPT, actions);
    await widget.ready;
    const modes = Array.from(
      widget.node.querySelectorAll('.jp-scripting-log-row td:nth-child(4)')
    ).map(td => td.textContent);
    expect(modes).toEqual(['background · attempt 2', 'sync']);
    await widget.showExecution(RETRIED);
    expect(
      widget.node.querySelector('.jp-scripting-attempt-detail')?.textContent
    ).toBe(
      `attempt 2, retry of ${EXECUTION.executionId}; retried by ${RETRIED.retriedBy}`
    );
    await widget.showExecution(EXECUTION);
    expect(
      widget.node.querySelector('.jp-scripting-attempt-detail')
    ).toBeNull();
    widget.dispose();
  });

  it("shows the server's error for a script that no longer exists", async () => {
    const { client } = clientWith(notFound);
    const widget = new LogsWidget(
      client,
      { scriptId: SCRIPT.scriptId, name: 'gone' },
      actions
    );
    await widget.ready;
    const message = widget.node.querySelector('.jp-scripting-message');
    expect(message?.classList).toContain('jp-scripting-error');
    expect(message?.textContent).toBe(
      `Could not read the log: 404 Not Found: ${models.error.message}`
    );
    widget.dispose();
  });
});
