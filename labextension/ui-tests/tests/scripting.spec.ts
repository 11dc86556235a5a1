/**
 * The authoring story in a real JupyterLab, against a real server with real kernels:
 * publish the demo notebook, run it from the run dialog, read its log, open the
 * executed notebook; then the Scripts panel's actions, a background run, and a server
 * error shown in the UI; a reload that reopens the Run and Logs tabs; the run form of a
 * script's parameters and its 422s, the chart of a script's runs, a background run
 * watched live from the run dialog and from the logs view, a script's schedule and its
 * webhook in the panel, a run's webhook deliveries in its log; the Variables view, and a
 * script's variables and retries in the panel. The screenshots of the README are taken
 * here.
 */
import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';

import { HELLO, SCREENSHOTS, ScriptingUI, publishThroughApi } from './helper';

test.beforeAll(() => {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
});

test('publish the demo, run it, read its log and open the executed notebook', async ({
  page,
  tmpPath
}) => {
  const ui = new ScriptingUI(page);
  await page.contents.uploadFile(HELLO, `${tmpPath}/hello.ipynb`);
  await page.notebook.openByPath(`${tmpPath}/hello.ipynb`);

  // Publish: a name, then the URL and a ready-to-copy curl line.
  const { scriptId, curl } = await ui.publish('hello-ui');
  expect(scriptId).toMatch(/^[0-9a-f-]{36}$/);
  expect(curl).toContain(`/scripting/script/${scriptId}/run`);
  expect(curl).toContain('curl -X POST');
  expect(curl).toContain('Authorization: token ');
  await expect(ui.dialogTitle()).toContainText('Published "hello-ui" v1');
  await ui.runFromPublishedDialog();

  // Run it from the dialog.
  const result = await ui.run({ body: '{"name": "John Smith"}' });
  await expect(result.locator('.jp-scripting-answer-code')).toHaveText(
    '200 OK'
  );
  await expect(result.locator('.jp-scripting-body')).toHaveText(
    'Hello John Smith!'
  );
  await expect(result.locator('.jp-scripting-answer-id')).toContainText(
    'execution '
  );
  await result.locator('.jp-scripting-answer-headers summary').click();
  await expect(result.locator('.jp-scripting-headers')).toContainText(
    'x-execution-id'
  );
  await ui.screenshot('run-dialog');

  // Its log: the run is there; its content is the answer.
  await ui.openLogsFromRun();
  await expect(ui.logRows()).toHaveCount(1);
  await expect(ui.logRows().first()).toContainText('200');
  await expect(ui.logRows().first()).toContainText('sync');
  await ui.logRows().first().click();
  await expect(ui.logDetail().locator('.jp-scripting-body')).toHaveText(
    'Hello John Smith!'
  );
  await ui.screenshot('logs');

  // The executed notebook opens read-only, outputs included.
  const executed = await ui.openExecutedNotebook();
  await expect(executed.locator('.jp-OutputArea-output').first()).toHaveText(
    'Hello John Smith!'
  );
  await expect(
    executed.locator('[data-jp-item-name="read-only-indicator"]')
  ).toBeVisible();

  // Publishing again makes version 2 of the same script (the link is in the metadata).
  await page.notebook.activate('hello.ipynb');
  const again = await ui.publish();
  expect(again.scriptId).toBe(scriptId);
  await expect(ui.dialogTitle()).toContainText('Published "hello-ui" v2');
  await ui.answerDialog('Close');

  // The Scripts panel lists it with its latest version and last run.
  await ui.openPanel();
  const item = ui.panelItem(scriptId);
  await expect(item.locator('.jp-scripting-item-name')).toHaveText('hello-ui');
  await expect(item.locator('.jp-scripting-item-version')).toHaveText('v2');
  await expect(item.locator('.jp-scripting-last-run')).toContainText('200');
  await ui.screenshot('panel');
});

test('panel actions, a background run, and server errors in the UI', async ({
  page,
  request
}) => {
  const ui = new ScriptingUI(page);
  const scriptId = await publishThroughApi(
    request,
    'greeter',
    'import json\nresponse.json({"hello": request.json()["name"]})'
  );
  await ui.openPanel();
  const item = ui.panelItem(scriptId);
  await expect(item.locator('.jp-scripting-last-run')).toContainText(
    'never run'
  );

  // Rename.
  await ui.panelAction(scriptId, 'Rename');
  await ui.answerDialog('Rename', 'greeter-renamed');
  await expect(item.locator('.jp-scripting-item-name')).toHaveText(
    'greeter-renamed'
  );

  // A background run: 202 at once, then the dialog follows the log until it is done.
  await ui.panelAction(scriptId, 'Run');
  const result = await ui.run({ body: '{"name": "Ada"}', background: true });
  await expect(result.locator('.jp-scripting-answer-code')).toHaveText(
    '200 OK'
  );
  await expect(result.locator('.jp-scripting-body-json')).toContainText(
    '"hello": "Ada"'
  );

  // Open the notebook of version 1 from the panel (read-only, no kernel).
  await ui.panelAction(scriptId, 'Notebook');
  const notebook = page.locator(
    '.jp-NotebookPanel.jp-scripting-read-only:visible'
  );
  await expect(notebook).toBeVisible();
  await expect(notebook.locator('.jp-Cell').first()).toContainText(
    'response.json'
  );

  // Delete, with confirmation; the script is gone from the panel.
  await ui.openPanel();
  await ui.panelAction(scriptId, 'Delete');
  await ui.answerDialog('Delete');
  await expect(item).toHaveCount(0);

  // Running it now: the server's 404 is shown as a clear message.
  await ui.activateTab('Run · greeter');
  const failed = await ui.run({ body: '{"name": "Ada"}' });
  await expect(failed.locator('.jp-scripting-answer-code')).toHaveText(
    '404 Not Found'
  );
  await expect(failed.locator('.jp-scripting-error')).toContainText(
    'not-found'
  );
});

test.describe('a reload', () => {
  // The layout goes through the server's workspace API, as in a real session (else
  // Galata keeps it in the test's memory).
  test.use({ mockState: false });

  test('reopens the Run and Logs tabs, also of a script deleted meanwhile', async ({
    page,
    request
  }) => {
    const ui = new ScriptingUI(page);
    const kept = await publishThroughApi(
      request,
      'kept',
      'response.json({"kept": True})'
    );
    const gone = await publishThroughApi(request, 'gone', 'response.json({})');

    // A Run tab (with a run, so that the log has a row) and a Logs tab of one script,
    // a Run tab of another, which is then deleted behind the page's back.
    await ui.openPanel();
    await ui.panelAction(kept, 'Run');
    const result = await ui.run({ body: '{}' });
    await expect(result.locator('.jp-scripting-answer-code')).toHaveText(
      '200 OK'
    );
    await ui.openPanel();
    await ui.panelAction(kept, 'Logs');
    await expect(ui.logRows()).toHaveCount(1);
    await ui.openPanel();
    await ui.panelAction(gone, 'Run');
    await expect(ui.tab('Run · gone')).toBeVisible();
    expect((await request.delete(`/scripting/script/${gone}`)).status()).toBe(
      204
    );

    await ui.reloadOnceSaved(request, [
      `jupyter-scripting-run:${kept}`,
      `jupyter-scripting-logs:${kept}`,
      `jupyter-scripting-run:${gone}`
    ]);

    // All three tabs are back, for the same scripts.
    await expect(ui.tab('Run · kept')).toBeVisible();
    await expect(ui.tab('Logs · kept')).toBeVisible();
    await expect(ui.tab('Run · gone')).toBeVisible();

    // The deleted script's tab shows the server's 404.
    await ui.activateTab('Run · gone');
    await expect(ui.runError()).toContainText('Could not read the script');
    await expect(ui.runError()).toContainText('404 Not Found');

    // The others work as before the reload.
    await ui.activateTab('Logs · kept');
    await expect(ui.logRows()).toHaveCount(1);
    await expect(ui.logsMessage()).not.toHaveClass(/jp-scripting-error/);
    await ui.activateTab('Run · kept');
    const again = await ui.run({ body: '{}' });
    await expect(again.locator('.jp-scripting-answer-code')).toHaveText(
      '200 OK'
    );
    await expect(again.locator('.jp-scripting-body-json')).toContainText(
      '"kept": true'
    );
  });
});

test("the run form from a script's parameters, its 422 by the field, the chart of its runs", async ({
  page,
  request
}) => {
  const ui = new ScriptingUI(page);
  const scriptId = await publishThroughApi(request, 'greetings', [
    {
      source: 'name = "World"\ncount: int = 3  # how many greetings',
      tags: ['parameters']
    },
    { source: 'response.json({"greetings": [f"Hello {name}!"] * count})' }
  ]);
  await ui.openPanel();
  await ui.panelAction(scriptId, 'Run');

  // One typed field per parameter, its default filled in and left to the notebook.
  await expect(ui.paramsForm()).toBeVisible();
  await expect(ui.paramInput('name')).toHaveValue('World');
  await expect(ui.paramInput('count')).toHaveAttribute('type', 'number');
  await expect(ui.paramInput('count')).toHaveValue('3');
  await expect(ui.param('count')).toContainText('count: int = 3');
  await expect(ui.param('count')).toContainText('how many greetings');
  await expect(ui.param('count')).toContainText("notebook's default");

  // What is changed is sent as the JSON body; the rest keeps the notebook's default.
  const result = await ui.run({ params: { name: 'Ada' } });
  await expect(ui.param('name')).toContainText('sent');
  await expect(result.locator('.jp-scripting-answer-code')).toHaveText(
    '200 OK'
  );
  await expect(result.locator('.jp-scripting-body-json')).toContainText(
    '"Hello Ada!",\n    "Hello Ada!",\n    "Hello Ada!"'
  );
  await ui.screenshot('run-form');

  // A wrong type: the server's 422, its problem by the field.
  const refused = await ui.run({ params: { count: '2.5' } });
  await expect(refused.locator('.jp-scripting-answer-code')).toHaveText(
    '422 Unprocessable Content'
  );
  await expect(ui.paramProblem('count')).toContainText('must be an integer');

  // From the raw request, an unknown name: its problem on top of the form.
  await ui.run({ body: '{"count": "abc", "colour": "red"}' });
  await expect(refused.locator('.jp-scripting-problems')).toContainText(
    'colour'
  );
  await ui.setRaw(false);
  await expect(ui.paramProblem('count')).toContainText('not a string');
  await expect(ui.formProblems()).toContainText('colour: unknown parameter');

  // The logs view charts the runs (those refused before running are not logged).
  await ui.run({ params: { count: '1' } });
  await expect(result.locator('.jp-scripting-answer-code')).toHaveText(
    '200 OK'
  );
  await ui.openLogsFromRun();
  await expect(ui.logRows()).toHaveCount(2);
  const chart = ui.logsChart();
  await expect(chart).toHaveAttribute(
    'aria-label',
    'Duration of the 2 executions listed, by date: 2 succeeded.'
  );
  await expect(chart.locator('circle.jp-scripting-chart-ok')).toHaveCount(2);
  await expect(chart.locator('circle title').first()).toContainText('200');
});

test('a background run shows what it prints while it runs', async ({
  page,
  request
}) => {
  const ui = new ScriptingUI(page);
  const scriptId = await publishThroughApi(request, 'ticker', [
    { source: 'import time' },
    {
      source:
        'for i in range(3):\n    print(f"tick {i}", flush=True)\n    time.sleep(1)\nresponse.json({"ticks": 3})'
    }
  ]);
  await ui.openPanel();
  await ui.panelAction(scriptId, 'Run');
  const result = await ui.run({ background: true });
  const live = ui.liveView();

  // The first line is there before the run has ended.
  await expect(live.locator('.jp-scripting-live-stdout')).toContainText(
    'tick 0'
  );
  await expect(live.locator('.jp-scripting-live-cell')).toHaveText(
    'cell 2 of 2'
  );
  await expect(live).not.toHaveClass(/jp-mod-done/);
  await expect(result.locator('.jp-scripting-answer-code')).toHaveCount(0);

  // Then all of it, its status, and its answer.
  await expect(live.locator('.jp-scripting-live-stdout')).toHaveText(
    'tick 0\ntick 1\ntick 2\n'
  );
  await expect(live.locator('.jp-scripting-live-state')).toContainText(
    'finished'
  );
  await expect(result.locator('.jp-scripting-answer-code')).toHaveText(
    '200 OK'
  );
  await expect(result.locator('.jp-scripting-body-json')).toContainText(
    '"ticks": 3'
  );
});

test('the logs view follows a running execution live, then shows how it ended', async ({
  page,
  request
}) => {
  const ui = new ScriptingUI(page);
  const scriptId = await publishThroughApi(request, 'slow ticker', [
    { source: 'import time' },
    {
      source:
        'for i in range(4):\n    print(f"step {i}", flush=True)\n    time.sleep(1)\nresponse.json({"steps": 4})'
    }
  ]);
  // Queued by another client: the logs view finds it running.
  const queued = await request.post(`/scripting/script/${scriptId}/background`);
  expect(queued.status()).toBe(202);
  const { executionId } = (await queued.json()) as { executionId: string };
  await ui.openPanel();
  await ui.panelAction(scriptId, 'Logs');
  const row = ui.logRow(executionId);
  await expect(row.locator('.jp-scripting-status')).toHaveText(
    /queued|running/
  );
  await row.click();

  // Its output while it runs: the first step before the run has ended.
  const live = ui.logDetail().locator('.jp-scripting-live');
  await expect(live.locator('.jp-scripting-live-stdout')).toContainText(
    'step 0'
  );
  await expect(live.locator('.jp-scripting-live-cell')).toHaveText(
    'cell 2 of 2'
  );
  await expect(live).not.toHaveClass(/jp-mod-done/);
  await expect(ui.logDetail().locator('.jp-scripting-answer-code')).toHaveCount(
    0
  );

  // Then all of it, its answer below, and its row with the status it ended with.
  await expect(live.locator('.jp-scripting-live-stdout')).toHaveText(
    'step 0\nstep 1\nstep 2\nstep 3\n'
  );
  await expect(live.locator('.jp-scripting-live-state')).toContainText(
    'finished'
  );
  await expect(ui.logDetail().locator('.jp-scripting-answer-code')).toHaveText(
    '200 OK'
  );
  await expect(ui.logDetail().locator('.jp-scripting-body-json')).toContainText(
    '"steps": 4'
  );
  await expect(row.locator('.jp-scripting-status')).toHaveText('200');
});

test("the Scripts panel shows a script's schedule and its next run", async ({
  page,
  request
}) => {
  const ui = new ScriptingUI(page);
  const scriptId = await publishThroughApi(request, 'weekday report', 'x = 1');
  const created = await request.post(`/scripting/script/${scriptId}/schedule`, {
    data: { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' }
  });
  expect(created.status()).toBe(201);
  const schedule = (await created.json()) as { nextRuns: string[] };
  await ui.openPanel();
  const next = ui.panelItem(scriptId).locator('.jp-scripting-next-run');
  await expect(next.locator('.jp-scripting-cron')).toHaveText('0 9 * * 1-5');
  await expect(next).toContainText('(Europe/Berlin) · next ');
  await expect(next).toHaveAttribute('title', /^Schedule [0-9a-f-]{36}:/);
  expect(schedule.nextRuns).toHaveLength(3);

  // Paused, it has no next run: the line goes at the next refresh.
  const scheduleId = ((await created.json()) as { scheduleId: string })
    .scheduleId;
  const paused = await request.patch(
    `/scripting/script/${scriptId}/schedule/${scheduleId}`,
    { data: { enabled: false } }
  );
  expect(paused.status()).toBe(200);
  await ui.openPanel();
  await expect(next).toHaveCount(0);
});

test("a script's webhook in the panel, a run's deliveries in its log", async ({
  page,
  request
}) => {
  const ui = new ScriptingUI(page);
  const scriptId = await publishThroughApi(
    request,
    'hooked',
    'response.json({"hooked": True})'
  );
  // A closed port on this machine (allow-listed in the server's test configuration):
  // every attempt is refused, and the delivery stays pending, tried again later.
  const url = 'http://127.0.0.1:9/hook';
  const patched = await request.patch(`/scripting/script/${scriptId}`, {
    data: { webhook: { url, events: ['finished', 'failed'] } }
  });
  expect(patched.status()).toBe(200);
  await ui.openPanel();
  const webhook = ui.panelItem(scriptId).locator('.jp-scripting-webhook');
  await expect(webhook.locator('.jp-scripting-webhook-url')).toHaveText(url);
  await expect(webhook).toContainText('(finished, failed)');
  await expect(
    ui.panelItem(scriptId).locator('.jp-scripting-last-deliveries')
  ).toHaveText('Last deliveries: none yet');

  // A background run: its end is POSTed to the webhook, and the attempt recorded.
  const queued = await request.post(`/scripting/script/${scriptId}/background`);
  expect(queued.status()).toBe(202);
  const { executionId } = (await queued.json()) as { executionId: string };
  await expect
    .poll(async () => {
      const response = await request.get(
        `/scripting/log/script/${scriptId}/execution/${executionId}/deliveries`
      );
      if (!response.ok()) {
        return `${response.status()}`;
      }
      const { deliveries } = (await response.json()) as {
        deliveries: { url: string; attempts: unknown[] }[];
      };
      return deliveries.map(d => `${d.url} ${d.attempts.length > 0}`);
    })
    .toEqual([`${url} true`]);

  // The panel shows the script's last delivery (refused, tried again later)...
  await ui.openPanel();
  const last = ui.panelItem(scriptId).locator('.jp-scripting-last-delivery');
  await expect(last).toHaveCount(1);
  await expect(last).toHaveAttribute('data-execution-id', executionId);
  await expect(last.locator('.jp-scripting-delivery-state')).toHaveText(
    'pending'
  );
  await expect(last.locator('.jp-scripting-delivery-error')).not.toBeEmpty();
  await expect(last).toContainText('next try');

  // ...and the logs view shows them below the run's answer.
  await ui.panelAction(scriptId, 'Logs');
  const row = ui.logRow(executionId);
  await expect(row.locator('.jp-scripting-status')).toHaveText('200');
  await row.click();
  await expect(ui.logDetail().locator('.jp-scripting-body-json')).toContainText(
    '"hooked": true'
  );
  const delivery = ui.logDetail().locator('.jp-scripting-delivery');
  await expect(delivery).toHaveCount(1);
  await expect(delivery.locator('.jp-scripting-delivery-url')).toHaveText(url);
  await expect(delivery.locator('.jp-scripting-delivery-event')).toHaveText(
    'finished'
  );
  await expect(delivery.locator('.jp-scripting-delivery-state')).toHaveText(
    'pending'
  );
  const attempt = delivery.locator('.jp-scripting-delivery-attempt').first();
  await expect(attempt).toContainText('#1');
  await expect(attempt.locator('.jp-scripting-delivery-error')).not.toBeEmpty();
});

test("the Variables view: a plain variable and a secret, set and deleted; a script's variables and retries in the panel", async ({
  page,
  request
}) => {
  const ui = new ScriptingUI(page);
  const secret = 'ui-s3cr3t-9f4e2b';
  await ui.openVariables();
  await ui.setVariable('UI_REGION', 'eu-1', { secret: false });
  await ui.setVariable('UI_TOKEN', secret, { secret: true });

  const region = ui.variableRow('UI_REGION');
  await expect(region.locator('.jp-scripting-variable-kind')).toHaveText(
    'plain'
  );
  await expect(region.locator('.jp-scripting-variable-value')).toHaveText(
    'eu-1'
  );
  const token = ui.variableRow('UI_TOKEN');
  await expect(token.locator('.jp-scripting-variable-kind')).toHaveText(
    'secret'
  );
  await expect(token.locator('.jp-scripting-variable-value')).toHaveText(
    '(hidden)'
  );
  // The secret's value is nowhere in the page: not shown, not in the form, not in
  // any attribute; and the server does not send it either.
  await expect(
    ui.variablesView().locator('.jp-scripting-variable-value-input')
  ).toHaveValue('');
  expect(await page.content()).not.toContain(secret);
  expect(
    await page.evaluate(
      value =>
        Array.from(document.querySelectorAll('input, textarea')).some(
          input =>
            (input as HTMLInputElement | HTMLTextAreaElement).value === value
        ),
      secret
    )
  ).toBe(false);
  const read = await request.get('/scripting/variables/UI_TOKEN');
  expect(read.status()).toBe(200);
  expect(await read.json()).not.toHaveProperty('value');

  // A script asks for both by name, from its line in the Scripts panel.
  const scriptId = await publishThroughApi(
    request,
    'with-variables',
    'import os\nresponse.json({"region": os.environ.get("UI_REGION"), "token": secrets["UI_TOKEN"]})'
  );
  const retried = await request.patch(`/scripting/script/${scriptId}`, {
    data: { retries: { max: 2, on: [502, 504], backoff: 5 } }
  });
  expect(retried.status()).toBe(200);
  await ui.openPanel();
  const line = ui.panelItem(scriptId).locator('.jp-scripting-variables-line');
  await expect(line).toContainText('Variables: none');
  await line.getByRole('button', { name: 'Edit', exact: true }).click();
  await ui.answerDialog('Set', 'UI_REGION, UI_TOKEN');
  await expect(line.locator('.jp-scripting-variable-names')).toHaveText(
    'UI_REGION, UI_TOKEN'
  );
  await expect(
    ui.panelItem(scriptId).locator('.jp-scripting-retries')
  ).toHaveText('Retries: up to 2 on 502, 504, back-off 5 s');
  // Its run gets them; the secret comes back masked.
  const run = await request.post(`/scripting/script/${scriptId}/run`);
  expect(run.status()).toBe(200);
  expect(await run.json()).toEqual({ region: 'eu-1', token: '***' });

  // Delete one, after confirming; the other stays.
  await ui.openVariables();
  await ui.deleteVariable('UI_REGION');
  await expect(ui.variableRow('UI_REGION')).toHaveCount(0);
  await expect(ui.variableRow('UI_TOKEN')).toHaveCount(1);
  await expect(
    ui.variablesView().locator('.jp-scripting-variables-message')
  ).toHaveText('Deleted UI_REGION.');
  expect((await request.get('/scripting/variables/UI_REGION')).status()).toBe(
    404
  );
});
