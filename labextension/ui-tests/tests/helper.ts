/**
 * The one place that knows the UI's selectors: the specs say what a user does, this
 * class how it is done in the page.
 */
import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { JupyterLabPage } from '@jupyterlab/galata';
import type { APIRequestContext, Locator } from '@playwright/test';
import * as path from 'path';

/** Where the README's screenshots are written (committed under docs/). */
export const SCREENSHOTS = path.resolve(
  __dirname,
  '..',
  '..',
  '..',
  'docs',
  'screenshots'
);
/** The demo notebook of `make run`. */
export const HELLO = path.resolve(
  __dirname,
  '..',
  '..',
  '..',
  'examples',
  'hello.ipynb'
);

export class ScriptingUI {
  constructor(readonly page: IJupyterLabPageFixture) {}

  // -- publishing ----------------------------------------------------------------------
  /** Click "Publish as script" in the notebook toolbar, name the script if asked. */
  async publish(name?: string): Promise<{ scriptId: string; curl: string }> {
    await this.page.locator('.jp-scripting-publish-button').first().click();
    const dialog = this.page.locator('.jp-Dialog');
    if (name !== undefined) {
      await dialog.locator('input').fill(name);
      await dialog.locator('.jp-mod-accept').click();
    }
    const published = this.page.locator('.jp-scripting-published');
    await expect(published).toBeVisible();
    return {
      scriptId:
        (await published.locator('.jp-scripting-script-id').textContent()) ??
        '',
      curl: (await published.locator('.jp-scripting-curl').textContent()) ?? ''
    };
  }

  /** The "Published" dialog's title. */
  dialogTitle(): Locator {
    return this.page.locator('.jp-Dialog .jp-Dialog-header');
  }

  async runFromPublishedDialog(): Promise<void> {
    await this.page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Run…' })
      .click();
  }

  // -- the run dialog --------------------------------------------------------------------
  /** The run dialog on screen. */
  runView(): Locator {
    return this.page.locator('.jp-scripting-run:visible');
  }

  /**
   * Send a request from the run dialog: `params` fills the parameters form's fields
   * (by name), `body` the raw body (switching to the raw request if there is a form).
   */
  async run(
    options: {
      body?: string;
      method?: string;
      background?: boolean;
      headers?: string;
      params?: { [name: string]: string };
    } = {}
  ): Promise<Locator> {
    const view = this.runView();
    await expect(view).toBeVisible();
    if (options.method) {
      await view.locator('.jp-scripting-method').selectOption(options.method);
    }
    if (options.headers !== undefined) {
      await view.locator('.jp-scripting-headers-input').fill(options.headers);
    }
    const toggle = view.locator('.jp-scripting-raw-toggle');
    if (options.params !== undefined) {
      await toggle.setChecked(false);
      for (const [name, value] of Object.entries(options.params)) {
        await this.paramInput(name).fill(value);
      }
    }
    if (options.body !== undefined) {
      if (await toggle.isVisible()) {
        await toggle.setChecked(true);
      }
      await view.locator('.jp-scripting-body-input').fill(options.body);
    }
    await view
      .locator('.jp-scripting-background')
      .setChecked(!!options.background);
    await view.locator('.jp-scripting-run-button').click();
    return view.locator('.jp-scripting-result');
  }

  /** The parameters form of the run dialog on screen. */
  paramsForm(): Locator {
    return this.runView().locator('.jp-scripting-params');
  }

  /** A parameter's field in the form (`data-name` is the parameter's name). */
  param(name: string): Locator {
    return this.paramsForm().locator(
      `.jp-scripting-param[data-name="${name}"]`
    );
  }

  paramInput(name: string): Locator {
    return this.param(name).locator('.jp-scripting-param-input');
  }

  /** The problem the server (or the form) found with a parameter. */
  paramProblem(name: string): Locator {
    return this.param(name).locator('.jp-scripting-param-problem');
  }

  /** The problems of no field (unknown names), on top of the form. */
  formProblems(): Locator {
    return this.paramsForm().locator('.jp-scripting-form-problems');
  }

  async setRaw(raw: boolean): Promise<void> {
    await this.runView().locator('.jp-scripting-raw-toggle').setChecked(raw);
  }

  /** The live view of the background run the run dialog follows. */
  liveView(): Locator {
    return this.runView().locator('.jp-scripting-result .jp-scripting-live');
  }

  // -- the logs view -----------------------------------------------------------------------
  async openLogsFromRun(): Promise<Locator> {
    await this.page
      .locator('.jp-scripting-run:visible .jp-scripting-run-links')
      .getByRole('button', { name: 'Logs' })
      .click();
    const view = this.page.locator('.jp-scripting-logs:visible');
    await expect(view).toBeVisible();
    return view;
  }

  logRows(): Locator {
    return this.page.locator(
      '.jp-scripting-logs:visible .jp-scripting-log-row'
    );
  }

  /** The logs view's row of one execution. */
  logRow(executionId: string): Locator {
    return this.page.locator(
      `.jp-scripting-logs:visible .jp-scripting-log-row[data-execution-id="${executionId}"]`
    );
  }

  /** The chart of the executions listed, and its points. */
  logsChart(): Locator {
    return this.page.locator(
      '.jp-scripting-logs:visible svg.jp-scripting-chart'
    );
  }

  logDetail(): Locator {
    return this.page.locator(
      '.jp-scripting-logs:visible .jp-scripting-log-detail'
    );
  }

  /** Open the executed notebook of the execution shown in the logs view. */
  async openExecutedNotebook(): Promise<Locator> {
    await this.logDetail().locator('.jp-scripting-open-executed').click();
    const notebook = this.page.locator(
      '.jp-NotebookPanel.jp-scripting-read-only:visible'
    );
    await expect(notebook).toBeVisible();
    return notebook;
  }

  // -- the Scripts panel ----------------------------------------------------------------
  async openPanel(): Promise<Locator> {
    await this.page.sidebar.openTab('jp-scripting-panel');
    const panel = this.page.locator('#jp-scripting-panel');
    await expect(panel).toBeVisible();
    await panel.locator('.jp-scripting-refresh').click();
    return panel;
  }

  panelItem(scriptId: string): Locator {
    return this.page.locator(
      `#jp-scripting-panel .jp-scripting-item[data-script-id="${scriptId}"]`
    );
  }

  async panelAction(scriptId: string, action: string): Promise<void> {
    await this.panelItem(scriptId)
      .getByRole('button', { name: action, exact: true })
      .click();
  }

  /** Answer the open dialog: fill its input if given, then click `button`. */
  async answerDialog(button: string, input?: string): Promise<void> {
    const dialog = this.page.locator('.jp-Dialog');
    await expect(dialog).toBeVisible();
    if (input !== undefined) {
      await dialog.locator('input').fill(input);
    }
    await dialog.getByRole('button', { name: button, exact: true }).click();
    await expect(dialog).toHaveCount(0);
  }

  // -- the Variables view ------------------------------------------------------------
  /** Open the Variables view from the Scripts panel's header. */
  async openVariables(): Promise<Locator> {
    const panel = await this.openPanel();
    await panel.locator('.jp-scripting-open-variables').click();
    const view = this.variablesView();
    await expect(view).toBeVisible();
    return view;
  }

  variablesView(): Locator {
    return this.page.locator('.jp-scripting-variables:visible');
  }

  /** The view's row of one variable. */
  variableRow(name: string): Locator {
    return this.variablesView().locator(
      `.jp-scripting-variable-row[data-name="${name}"]`
    );
  }

  /** Fill the view's form and click Set; resolves once the form says it is set. */
  async setVariable(
    name: string,
    value: string,
    options: { secret: boolean }
  ): Promise<void> {
    const view = this.variablesView();
    await view.locator('.jp-scripting-variable-name-input').fill(name);
    await view
      .locator('.jp-scripting-variable-secret-input')
      .setChecked(options.secret);
    const input = view.locator('.jp-scripting-variable-value-input');
    await expect(input).toHaveAttribute(
      'type',
      options.secret ? 'password' : 'text'
    );
    await input.fill(value);
    await view.locator('.jp-scripting-variable-set').click();
    await expect(
      view.locator('.jp-scripting-variable-form-message')
    ).toContainText(name);
  }

  async deleteVariable(name: string): Promise<void> {
    await this.variableRow(name)
      .getByRole('button', { name: 'Delete', exact: true })
      .click();
    await this.answerDialog('Delete');
  }

  // -- tabs and reloading ------------------------------------------------------------
  /** The main-area tab titled `label` (e.g. `Run · hello`, `Logs · hello`). */
  tab(label: string): Locator {
    return this.page.activity.getTabLocator(label);
  }

  async activateTab(label: string): Promise<void> {
    await this.tab(label).click();
    await expect(this.tab(label)).toHaveAttribute('aria-selected', 'true');
  }

  /** The messages and errors of the logs view on screen (above its table). */
  logsMessage(): Locator {
    return this.page.locator(
      '.jp-scripting-logs:visible .jp-scripting-message'
    );
  }

  /** The error the run dialog on screen shows in its result area. */
  runError(): Locator {
    return this.runView().locator('.jp-scripting-result .jp-scripting-error');
  }

  /**
   * Wait until the server's workspace holds the layout with the main-area tabs that
   * `names` are restored by (`jupyter-scripting-run:<scriptId>`…), then reload.
   */
  async reloadOnceSaved(
    request: APIRequestContext,
    names: string[]
  ): Promise<void> {
    await expect
      .poll(async () => {
        const response = await request.get('/lab/api/workspaces/default');
        const layout = response.ok()
          ? JSON.stringify(
              ((await response.json()) as { data?: Record<string, unknown> })
                .data?.['layout-restorer:data'] ?? null
            )
          : '';
        return names.filter(name => !layout.includes(name));
      })
      .toEqual([]);
    // Without Galata's wait for the Launcher: the restored layout has none. (The fixture
    // is Galata's JupyterLabPage, whose reload takes the option; its type shows only
    // Playwright's reload.)
    await (this.page as unknown as JupyterLabPage).reload({
      waitForIsReady: false
    });
    await this.page
      .locator('#jupyterlab-splash')
      .waitFor({ state: 'detached' });
  }

  async screenshot(name: string): Promise<void> {
    await this.page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
  }
}

/** A code cell of a notebook published by `publishThroughApi`. */
export interface ICellSource {
  source: string;
  tags?: string[];
}

/**
 * Publish a notebook straight through the API (as another client would): one code
 * cell of `source`, or the cells given.
 */
export async function publishThroughApi(
  request: APIRequestContext,
  name: string,
  source: string | ICellSource[]
): Promise<string> {
  const cells = typeof source === 'string' ? [{ source }] : source;
  const notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: {
        name: 'python3',
        display_name: 'Python 3',
        language: 'python'
      }
    },
    cells: cells.map((cell, i) => ({
      cell_type: 'code',
      id: `c${i + 1}`,
      metadata: cell.tags ? { tags: cell.tags } : {},
      execution_count: null,
      outputs: [],
      source: cell.source
    }))
  };
  const response = await request.post('/scripting/script', {
    data: { name, notebook }
  });
  expect(response.status()).toBe(201);
  return ((await response.json()) as { scriptId: string }).scriptId;
}
