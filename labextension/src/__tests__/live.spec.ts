/**
 * Watching an execution run: the live view shows its events as they come (progress,
 * printed text, displays, errors, the final status); the run dialog follows a background
 * run with it and then shows the answer, reading the log when there is no stream; the
 * logs view follows a run that is not finished, and charts the executions it lists.
 */
import { ExecutionEvent, IExecution, IScript } from '../api';
import { outcomeOf, renderRunsChart } from '../chart';
import { LiveExecution } from '../live';
import { LogsWidget } from '../logs';
import { IScriptActions, RunWidget } from '../run';

import {
  ISent,
  clientWith,
  installObjectUrls,
  IObjectUrlLog,
  json,
  streamOf
} from './fakes';
import models from './models.json';

const SCRIPT = models.script as IScript;
const EXECUTION = models.execution as IExecution;
const ID = EXECUTION.executionId;

const actions: IScriptActions = {
  openExecutedNotebook: () => undefined,
  openLogs: () => undefined
};

function route(sent: ISent): string {
  return new URL(sent.url).pathname.replace(/^.*\/scripting\//, '');
}

/** The SSE text of events (`kind` as the event name, the rest as its data). */
function sse(...events: ExecutionEvent[]): string {
  return events
    .map(({ id, kind, ...data }) =>
      [
        `id: ${id}`,
        `event: ${kind}`,
        `data: ${JSON.stringify(data)}`,
        '',
        ''
      ].join('\n')
    )
    .join('');
}

const EVENTS: ExecutionEvent[] = [
  { id: 1, kind: 'state', state: 'running' },
  { id: 2, kind: 'progress', cell: 1, cells: 2, index: 0 },
  { id: 3, kind: 'stream', name: 'stdout', text: 'one\n' },
  { id: 4, kind: 'stream', name: 'stdout', text: 'two\n' },
  {
    id: 5,
    kind: 'display',
    output_type: 'display_data',
    data: { 'text/plain': "{'a': 1}", 'application/json': { a: 1 } },
    metadata: {}
  },
  { id: 6, kind: 'progress', cell: 2, cells: 2, index: 3 },
  {
    id: 7,
    kind: 'cell-error',
    ename: 'ValueError',
    evalue: 'bad',
    traceback: ['\u001b[0;31mValueError\u001b[0m: bad']
  },
  {
    id: 8,
    kind: 'status',
    state: 'failed',
    statusCode: 500,
    durationMs: 1234,
    message: 'The script raised ValueError.'
  }
];

const FINISHED: ExecutionEvent = {
  id: 9,
  kind: 'status',
  state: 'finished',
  statusCode: 200,
  durationMs: 1234
};

function stream(text: string[]): Response {
  return new Response(streamOf(text), {
    headers: { 'Content-Type': 'text/event-stream' }
  });
}

function answer(): Response {
  return new Response('done', {
    headers: {
      'Content-Type': 'text/plain',
      'X-Execution-Id': ID,
      'X-Execution-Status': '200'
    }
  });
}

let objectUrls: IObjectUrlLog;

beforeEach(() => {
  objectUrls = installObjectUrls();
});

afterEach(() => {
  objectUrls.uninstall();
});

describe('LiveExecution', () => {
  it('shows each event as it comes, and resolves with the status', async () => {
    const { client, sent } = clientWith(() => stream([sse(...EVENTS)]));
    const live = new LiveExecution(client, SCRIPT.scriptId, ID);
    const status = await live.follow();
    expect(status).toEqual(EVENTS[7]);
    expect(route(sent[0])).toBe(
      `log/script/${SCRIPT.scriptId}/execution/${ID}/events`
    );
    const node = live.node;
    expect(node.querySelector('.jp-scripting-live-cell')?.textContent).toBe(
      'cell 2 of 2'
    );
    const bar = node.querySelector('progress');
    expect([bar?.value, bar?.max]).toEqual([2, 2]);
    expect(node.querySelector('.jp-scripting-live-stdout')?.textContent).toBe(
      'one\ntwo\n'
    );
    expect(
      node.querySelector('.jp-scripting-live-display .jp-scripting-body-json')
        ?.textContent
    ).toBe('{\n  "a": 1\n}');
    expect(node.querySelector('.jp-scripting-live-error')?.textContent).toBe(
      'ValueError: bad'
    );
    const state = node.querySelector('.jp-scripting-live-state')?.textContent;
    expect(state).toContain('failed');
    expect(state).toContain('500');
    expect(state).toContain('1.2 s');
    expect(state).toContain('The script raised ValueError.');
    live.dispose();
  });

  it('opens a broken stream again after the last event seen', async () => {
    const answers = [
      stream([sse(...EVENTS.slice(0, 3))]),
      stream([sse(...EVENTS.slice(2))]) // a server may send one again
    ];
    const { client, sent } = clientWith(() => answers.shift() ?? json({}, 500));
    const live = new LiveExecution(client, SCRIPT.scriptId, ID);
    expect((await live.follow())?.kind).toBe('status');
    expect(new URL(sent[1].url).search).toBe('?after=3');
    expect(
      live.node.querySelector('.jp-scripting-live-stdout')?.textContent
    ).toBe('one\ntwo\n');
    live.dispose();
  });

  it('resolves with null when the server has no stream for it', async () => {
    const { client } = clientWith(() => json(models.error, 404));
    const live = new LiveExecution(client, SCRIPT.scriptId, ID);
    expect(await live.follow()).toBeNull();
    live.dispose();
  });

  it('revokes the object URLs of the images it showed when disposed', () => {
    const { client } = clientWith(() => json({}));
    const live = new LiveExecution(client, SCRIPT.scriptId, ID);
    live.apply({
      id: 1,
      kind: 'display',
      output_type: 'display_data',
      data: { 'image/png': 'iVBORw0KGgo=', 'text/plain': '<Figure>' },
      metadata: {}
    });
    expect(live.node.querySelector('img')?.src).toBe('blob:fake-1');
    live.dispose();
    expect(objectUrls.live()).toEqual([]);
  });
});

describe('RunWidget in the background', () => {
  function server(events: () => Response) {
    return clientWith(sent => {
      const path = route(sent);
      if (path.endsWith('/background')) {
        return json({ executionId: ID, state: 'queued' }, 202);
      }
      if (path.endsWith('/events')) {
        return events();
      }
      if (path.includes('/execution/')) {
        return answer();
      }
      return json(SCRIPT);
    });
  }

  it('follows the run live, then shows its answer below what it printed', async () => {
    const { client } = server(() =>
      stream([sse(...EVENTS.slice(0, 4), FINISHED)])
    );
    const widget = new RunWidget(client, SCRIPT, actions);
    await widget.ready;
    widget.node.querySelector<HTMLInputElement>(
      '.jp-scripting-background'
    )!.checked = true;
    await widget.run();
    const result = widget.node.querySelector('.jp-scripting-result')!;
    expect(result.querySelector('.jp-scripting-live-stdout')?.textContent).toBe(
      'one\ntwo\n'
    );
    expect(result.querySelector('.jp-scripting-answer-code')?.textContent).toBe(
      '200 OK'
    );
    expect(result.querySelector('.jp-scripting-body')?.textContent).toBe(
      'done'
    );
    widget.dispose();
  });

  it('reads the log when the server has no event stream', async () => {
    const { client, sent } = server(() => json(models.error, 404));
    const widget = new RunWidget(client, SCRIPT, actions);
    await widget.ready;
    widget.node.querySelector<HTMLInputElement>(
      '.jp-scripting-background'
    )!.checked = true;
    await widget.run();
    expect(
      widget.node.querySelector('.jp-scripting-answer-code')?.textContent
    ).toBe('200 OK');
    expect(sent.map(route).filter(p => p.endsWith(ID))).toHaveLength(1);
    widget.dispose();
  });
});

describe('LogsWidget', () => {
  const RUNNING: IExecution = {
    ...EXECUTION,
    executionId: 'running-1',
    executionDate: '2026-11-29T10:01:00Z',
    state: 'running',
    statusCode: null,
    durationMs: null,
    mode: 'background'
  };
  const FAILED: IExecution = {
    ...EXECUTION,
    executionId: 'failed-1',
    executionDate: '2026-11-29T10:00:30Z',
    state: 'failed',
    statusCode: 500,
    durationMs: 120
  };

  it('charts the executions listed, one titled point each', async () => {
    const { client } = clientWith(sent =>
      route(sent).startsWith('log/')
        ? json({
            filteredLogs: [RUNNING, FAILED, EXECUTION],
            moreElements: false
          })
        : json(SCRIPT)
    );
    const widget = new LogsWidget(client, SCRIPT, actions);
    await widget.ready;
    const chart = widget.node.querySelector('svg.jp-scripting-chart');
    expect(chart?.getAttribute('role')).toBe('img');
    expect(chart?.getAttribute('aria-label')).toBe(
      'Duration of the 3 executions listed, by date: 1 succeeded, 1 failed, 1 not finished.'
    );
    const points = Array.from(chart?.querySelectorAll('circle') ?? []);
    // Oldest first, from left to right.
    expect(points.map(p => p.getAttribute('data-execution-id'))).toEqual([
      EXECUTION.executionId,
      'failed-1',
      'running-1'
    ]);
    const xs = points.map(p => Number(p.getAttribute('cx')));
    expect(xs[0]).toBeLessThan(xs[1]);
    expect(xs[1]).toBeLessThan(xs[2]);
    // The longest run is the highest (y grows downwards); one not finished is at 0.
    const ys = points.map(p => Number(p.getAttribute('cy')));
    expect(ys[1]).toBeLessThan(ys[0]);
    expect(ys[2]).toBeGreaterThan(ys[0]);
    expect(points[1].classList).toContain('jp-scripting-chart-server');
    expect(points[1].querySelector('title')?.textContent).toContain(
      '500 (failed)'
    );
    expect(points[1].querySelector('title')?.textContent).toContain('120 ms');

    // A point is a way to its execution too.
    points[0].dispatchEvent(new MouseEvent('click'));
    expect(
      widget.node
        .querySelector('.jp-scripting-log-row.jp-mod-selected')
        ?.getAttribute('data-execution-id')
    ).toBe(EXECUTION.executionId);
    widget.dispose();
  });

  it('follows a running execution live until its answer, then reads its deliveries', async () => {
    let reads = 0;
    let deliveryReads = 0;
    const { client } = clientWith(sent => {
      const path = route(sent);
      if (path.endsWith('/events')) {
        return stream([sse(EVENTS[2], FINISHED)]);
      }
      if (path.endsWith('/deliveries')) {
        deliveryReads += 1;
        return json({ executionId: 'running-1', deliveries: [] });
      }
      if (path.includes('/execution/')) {
        // Still running when the row is chosen; done once its status has come.
        return reads++ === 0
          ? json({ executionId: 'running-1', state: 'running' }, 202)
          : answer();
      }
      if (path.startsWith('log/')) {
        return json({ filteredLogs: [RUNNING], moreElements: false });
      }
      return json(SCRIPT);
    });
    const widget = new LogsWidget(client, SCRIPT, actions);
    await widget.ready;
    await widget.showExecution(RUNNING);
    const detail = widget.node.querySelector('.jp-scripting-log-detail')!;
    expect(detail.querySelector('.jp-scripting-live-stdout')?.textContent).toBe(
      'one\n'
    );
    expect(detail.querySelector('.jp-scripting-answer-code')?.textContent).toBe(
      '200 OK'
    );
    // Read once, when the run has ended (they are written then).
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(deliveryReads).toBe(1);
    expect(
      detail.querySelector('.jp-scripting-no-deliveries')?.textContent
    ).toBe('No deliveries.');
    widget.dispose();
  });
});

describe('outcomeOf', () => {
  it('tells success, refusal, failure and not finished apart', () => {
    expect(outcomeOf(EXECUTION)).toBe('ok');
    expect(outcomeOf({ ...EXECUTION, statusCode: 404 })).toBe('client');
    expect(outcomeOf({ ...EXECUTION, state: 'failed', statusCode: 200 })).toBe(
      'server'
    );
    expect(outcomeOf({ ...EXECUTION, state: 'queued', statusCode: null })).toBe(
      'pending'
    );
    expect(renderRunsChart([]).getAttribute('aria-label')).toBe(
      'No executions to chart.'
    );
  });
});
