/**
 * The authoring story in a real JupyterLab, against a real server with real kernels:
 * publish the demo notebook, run it from the run dialog, read its log, open the
 * executed notebook; then the Scripts panel's actions, a background run, and a server
 * error shown in the UI; a reload that reopens the Run and Logs tabs. The screenshots of
 * the README are taken here.
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
