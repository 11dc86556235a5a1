/** The logs view: a script's executions, page by page, and the content of one of them. */
import { Widget } from '@lumino/widgets';

import { IAnswer, IExecution, ScriptingClient, describe } from './api';
import { renderRunsChart } from './chart';
import { DeliveriesView } from './deliveries';
import {
  ObjectUrls,
  button,
  formatDate,
  formatDuration,
  h,
  statusBadge
} from './dom';
import { LiveExecution, waitForContent } from './live';
import { renderAnswer } from './render';
import { attemptText } from './retries';
import type { IScriptActions, IScriptRef } from './run';

const PAGE_SIZE = 20;

/**
 * The logs view of one script (a main-area tab). A tab restored for a script deleted
 * meanwhile shows the server's error in place of the list.
 */
export class LogsWidget extends Widget {
  constructor(
    private readonly client: ScriptingClient,
    script: IScriptRef,
    private readonly actions: IScriptActions
  ) {
    super();
    this._script = { ...script };
    this.id = `jp-scripting-logs-${script.scriptId}`;
    this.setTitle();
    this.title.closable = true;
    this.addClass('jp-scripting-logs');

    this.versions = h('select', {
      class: 'jp-scripting-log-versions',
      'aria-label': 'Versions'
    });
    this.versions.append(
      h('option', { value: 'latest' }, 'Latest version'),
      h('option', { value: 'all' }, 'All versions')
    );
    this.versions.addEventListener('change', () => {
      this.offset = 0;
      void this.refresh();
    });
    this.newer = button('‹ Newer', () => this.page(-PAGE_SIZE), {
      class: 'jp-Button jp-mod-styled jp-mod-reject jp-scripting-newer'
    });
    this.older = button('Older ›', () => this.page(PAGE_SIZE), {
      class: 'jp-Button jp-mod-styled jp-mod-reject jp-scripting-older'
    });
    this.pageInfo = h('span', { class: 'jp-scripting-page-info' });
    this.message = h('div', {
      class: 'jp-scripting-message',
      'aria-live': 'polite'
    });
    this.rows = h('tbody', {});
    this.chart = h('div', { class: 'jp-scripting-chart-area' });
    this.detail = h('div', { class: 'jp-scripting-log-detail' });
    this.node.append(
      h(
        'div',
        { class: 'jp-scripting-toolbar' },
        button('Refresh', () => void this.refresh(), {
          class: 'jp-Button jp-mod-styled jp-mod-reject jp-scripting-refresh'
        }),
        this.versions,
        this.newer,
        this.pageInfo,
        this.older
      ),
      this.message,
      this.chart,
      h(
        'table',
        { class: 'jp-scripting-log-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['Date', 'Status', 'Duration', 'Mode', 'Method', 'Version'].map(
              label => h('th', {}, label)
            )
          )
        ),
        this.rows
      ),
      this.detail
    );
    this.ready = Promise.all([this.refresh(), this.readName()]).then(
      () => undefined
    );
  }

  /** The script (its name as the server last said). */
  get script(): IScriptRef {
    return this._script;
  }

  /** Settles when the first page and the script's name have been read (or failed). */
  readonly ready: Promise<void>;

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._shown += 1; // an execution still loading is not shown
    this.live?.dispose();
    this.urls.dispose();
    super.dispose();
  }

  /** Reload the current page. */
  async refresh(): Promise<void> {
    const version = this.versions.value === 'all' ? 'all' : undefined;
    this.message.textContent = 'Loading…';
    try {
      const page = await this.client.listExecutions(this.script.scriptId, {
        limit: PAGE_SIZE,
        offset: this.offset,
        version
      });
      this.message.textContent = page.filteredLogs.length
        ? ''
        : this.offset
          ? 'No more executions.'
          : 'No executions yet: run the script first.';
      this.message.classList.remove('jp-scripting-error');
      this.rows.replaceChildren(...page.filteredLogs.map(e => this.row(e)));
      this.markSelected();
      this.chart.replaceChildren(
        ...(page.filteredLogs.length
          ? [renderRunsChart(page.filteredLogs, e => this.select(e))]
          : [])
      );
      this.newer.disabled = this.offset === 0;
      this.older.disabled = !page.moreElements;
      this.pageInfo.textContent = page.filteredLogs.length
        ? `${this.offset + 1}–${this.offset + page.filteredLogs.length}`
        : '';
    } catch (error) {
      this.showError(error, 'Could not read the log');
    }
  }

  /** The script's current name for the title (an error is the list's to show). */
  private async readName(): Promise<void> {
    try {
      this._script.name = (
        await this.client.getScript(this._script.scriptId)
      ).name;
      this.setTitle();
    } catch {
      // refresh() shows the server's error
    }
  }

  private setTitle(): void {
    const { name, scriptId } = this._script;
    this.title.label = `Logs · ${name}`;
    this.title.caption = `Execution log of ${name} (${scriptId})`;
  }

  private page(delta: number): void {
    this.offset = Math.max(0, this.offset + delta);
    void this.refresh();
  }

  private row(execution: IExecution): HTMLTableRowElement {
    const row = h(
      'tr',
      {
        class: 'jp-scripting-log-row',
        tabindex: '0',
        'data-execution-id': execution.executionId,
        title: `Execution ${execution.executionId}`
      },
      h('td', {}, formatDate(execution.executionDate)),
      h('td', {}, statusBadge(execution.statusCode, execution.state)),
      h('td', {}, formatDuration(execution.durationMs)),
      h(
        'td',
        {},
        execution.mode,
        execution.attempt > 1
          ? h(
              'span',
              { class: 'jp-scripting-attempt' },
              ` · attempt ${execution.attempt}`
            )
          : null
      ),
      h('td', {}, execution.method),
      h('td', {}, `v${execution.version}`)
    );
    const select = () => this.select(execution);
    row.addEventListener('click', select);
    row.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        select();
      }
    });
    return row;
  }

  /** Mark the execution's row and show it below the table. */
  private select(execution: IExecution): void {
    this.selected = execution.executionId;
    this.markSelected();
    void this.showExecution(execution);
  }

  private markSelected(): void {
    for (const row of this.rows.querySelectorAll<HTMLElement>(
      '.jp-scripting-log-row'
    )) {
      row.classList.toggle(
        'jp-mod-selected',
        row.dataset.executionId === this.selected
      );
    }
  }

  /**
   * The content of one execution and the way to its executed notebook. One that is not
   * finished is followed live until it is; without its event stream, the view says it
   * is not finished.
   */
  async showExecution(execution: IExecution): Promise<void> {
    const id = execution.executionId;
    const header = h(
      'div',
      { class: 'jp-scripting-log-detail-header' },
      h('span', {}, `Execution ${id}`),
      attemptText(execution)
        ? h(
            'span',
            { class: 'jp-scripting-attempt-detail' },
            attemptText(execution)
          )
        : null,
      button(
        'Open executed notebook',
        () => this.actions.openExecutedNotebook(this.script, id),
        {
          class:
            'jp-Button jp-mod-styled jp-mod-accept jp-scripting-open-executed'
        }
      )
    );
    const shown = ++this._shown;
    this.live?.dispose();
    this.live = null;
    this.showDetail(
      header,
      h('div', { class: 'jp-scripting-progress' }, 'Loading…')
    );
    try {
      const content = await this.client.getExecutionContent(
        this.script.scriptId,
        id
      );
      if (shown !== this._shown) {
        return; // another execution was chosen meanwhile, or the view closed
      }
      if (content.done) {
        this.urls.revokeAll(); // before the answer makes its own
        this.detail.replaceChildren(
          header,
          this.answerOf(
            content.answer,
            content.statusCode,
            execution.durationMs
          ),
          this.deliveriesOf(id)
        );
        return;
      }
      const live = new LiveExecution(this.client, this.script.scriptId, id);
      this.live = live;
      this.showDetail(header, live.node);
      const status = await live.follow();
      if (shown !== this._shown) {
        return;
      }
      if (status === null) {
        live.node.append(
          h(
            'div',
            { class: 'jp-scripting-progress' },
            `Not finished yet: ${content.state}. Refresh to see it later.`
          )
        );
        return;
      }
      const done = await waitForContent(
        this.client,
        this.script.scriptId,
        id,
        () => shown === this._shown
      );
      if (done) {
        this.urls.revokeAll();
        this.detail.replaceChildren(
          header,
          live.node,
          this.answerOf(done.answer, done.statusCode, status.durationMs),
          this.deliveriesOf(id) // written now that the run has ended
        );
        void this.refresh(); // its row and point now show how it ended
      }
    } catch (error) {
      if (shown !== this._shown) {
        return;
      }
      this.showDetail(
        header,
        h(
          'div',
          { class: 'jp-scripting-error', role: 'alert' },
          describe(error, 'Could not read the execution')
        )
      );
    }
  }

  /** A finished execution's answer, with the run's time (not the time to read it). */
  private answerOf(
    answer: IAnswer,
    statusCode: number | null,
    durationMs: number | null
  ): HTMLElement {
    const body = renderAnswer(answer, this.urls, statusCode);
    const time = body.querySelector('.jp-scripting-answer-time');
    if (time) {
      time.textContent = formatDuration(durationMs);
    }
    return body;
  }

  /** The deliveries section of a finished execution, loading (one request). */
  private deliveriesOf(executionId: string): HTMLElement {
    const view = new DeliveriesView(
      this.client,
      this.script.scriptId,
      executionId
    );
    void view.load();
    return view.node;
  }

  /** Replace the detail pane (revoking the object URLs of what it showed). */
  private showDetail(...nodes: Node[]): void {
    this.urls.revokeAll();
    this.detail.replaceChildren(...nodes);
  }

  private showError(error: unknown, what: string): void {
    this.message.textContent = describe(error, what);
    this.message.classList.add('jp-scripting-error');
  }

  private _script: IScriptRef;
  /** Counts the executions chosen: only the last one chosen is shown. */
  private _shown = 0;
  /** The object URLs of the execution shown. */
  private urls = new ObjectUrls();
  private offset = 0;
  private versions: HTMLSelectElement;
  private newer: HTMLButtonElement;
  private older: HTMLButtonElement;
  private pageInfo: HTMLElement;
  private message: HTMLElement;
  private rows: HTMLTableSectionElement;
  private chart: HTMLElement;
  /** The id of the execution chosen last (its row stays marked across reloads). */
  private selected: string | null = null;
  /** The execution followed live in the detail pane, if any. */
  private live: LiveExecution | null = null;
  private detail: HTMLElement;
}
