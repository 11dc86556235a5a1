/** The run dialog: send a request to a script, see its answer; or run it in the background. */
import { Widget } from '@lumino/widgets';

import {
  HTTP_METHODS,
  HttpMethod,
  IAnswer,
  IRunRequest,
  ScriptingApiError,
  ScriptingClient
} from './api';
import { button, formatDuration, h } from './dom';
import { renderAnswer } from './render';

/** What the widgets need of a script. */
export interface IScriptRef {
  scriptId: string;
  name: string;
}

/** Actions a widget may ask for (implemented by the plugin through its commands). */
export interface IScriptActions {
  openExecutedNotebook(script: IScriptRef, executionId: string): void;
  openLogs(script: IScriptRef): void;
}

const CONTENT_TYPES = [
  'application/json',
  'text/plain',
  'text/csv',
  'application/x-www-form-urlencoded',
  'application/xml'
];

/** How often a background run's log is read while it is not finished. */
const POLL_MS = 1000;

/** `Name: value` lines → header pairs; throws on a line that is not one. */
export function parseHeaders(text: string): [string, string][] {
  const headers: [string, string][] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) {
      continue;
    }
    const match = /^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*:\s*(.*)$/.exec(line);
    if (!match) {
      throw new Error(`Not a header line ("Name: value"): ${line.trim().slice(0, 60)}`);
    }
    headers.push([match[1], match[2].trim()]);
  }
  return headers;
}

export class RunWidget extends Widget {
  constructor(
    private readonly client: ScriptingClient,
    readonly script: IScriptRef,
    private readonly actions: IScriptActions
  ) {
    super();
    this.id = `jp-scripting-run-${script.scriptId}`;
    this.title.label = `Run · ${script.name}`;
    this.title.caption = `Run the script ${script.name} (${script.scriptId})`;
    this.title.closable = true;
    this.addClass('jp-scripting-run');

    this.method = h('select', { class: 'jp-scripting-method', 'aria-label': 'Method' });
    for (const method of HTTP_METHODS) {
      this.method.append(h('option', { value: method }, method));
    }
    this.method.addEventListener('change', () => this.updateBodyState());
    this.contentType = h('input', {
      class: 'jp-scripting-content-type',
      list: `${this.id}-types`,
      value: 'application/json',
      'aria-label': 'Content type'
    });
    const types = h('datalist', { id: `${this.id}-types` });
    for (const type of CONTENT_TYPES) {
      types.append(h('option', { value: type }));
    }
    this.headers = h('textarea', {
      class: 'jp-scripting-headers-input',
      rows: '3',
      placeholder: 'X-Header: value (one per line)',
      'aria-label': 'Headers'
    });
    this.body = h('textarea', {
      class: 'jp-scripting-body-input',
      rows: '8',
      'aria-label': 'Body'
    });
    this.body.value = '{}';
    this.background = h('input', { type: 'checkbox', class: 'jp-scripting-background' });
    this.runButton = button('Run', () => void this.run(), {
      class: 'jp-Button jp-mod-styled jp-mod-accept jp-scripting-run-button'
    });
    this.result = h('div', { class: 'jp-scripting-result', 'aria-live': 'polite' });

    const field = (label: string, control: HTMLElement) =>
      h('label', { class: 'jp-scripting-field' }, h('span', {}, label), control);
    this.node.append(
      h(
        'div',
        { class: 'jp-scripting-run-form' },
        h('div', { class: 'jp-scripting-run-url' }, h('code', {}, client.runUrl(script.scriptId))),
        h(
          'div',
          { class: 'jp-scripting-run-row' },
          field('Method', this.method),
          field('Content type', this.contentType),
          types
        ),
        field('Headers', this.headers),
        field('Body', this.body),
        h(
          'div',
          { class: 'jp-scripting-run-row' },
          h(
            'label',
            { class: 'jp-scripting-check' },
            this.background,
            ' Run in background (202 now, then follow the log)'
          ),
          this.runButton
        )
      ),
      this.result
    );
  }

  /** The request the form describes (throws on malformed headers). */
  request(): IRunRequest {
    return {
      method: this.method.value as HttpMethod,
      contentType: this.contentType.value.trim() || undefined,
      headers: parseHeaders(this.headers.value),
      body: this.body.value
    };
  }

  dispose(): void {
    this._runs += 1; // stops a background run being followed
    super.dispose();
  }

  async run(): Promise<void> {
    const run = ++this._runs;
    let request: IRunRequest;
    try {
      request = this.request();
    } catch (error) {
      this.showError((error as Error).message);
      return;
    }
    this.runButton.disabled = true;
    this.showProgress('Running…');
    try {
      if (this.background.checked) {
        await this.runInBackground(run, request);
      } else {
        const answer = await this.client.run(this.script.scriptId, request);
        if (run === this._runs) {
          this.showAnswer(answer, answer.status);
        }
      }
    } catch (error) {
      if (run === this._runs) {
        this.showError(
          error instanceof ScriptingApiError ? error.description : String(error)
        );
      }
    } finally {
      this.runButton.disabled = false;
    }
  }

  private async runInBackground(run: number, request: IRunRequest): Promise<void> {
    const started = performance.now();
    const executionId = await this.client.runInBackground(this.script.scriptId, request);
    for (;;) {
      if (run !== this._runs) {
        return;
      }
      const content = await this.client.getExecutionContent(this.script.scriptId, executionId);
      if (content.done) {
        if (run === this._runs) {
          content.answer.durationMs = performance.now() - started;
          this.showAnswer(content.answer, content.statusCode ?? content.answer.status, executionId);
        }
        return;
      }
      this.showProgress(
        `Background run ${executionId}: ${content.state} (${formatDuration(
          performance.now() - started
        )})…`
      );
      await new Promise(resolve => setTimeout(resolve, POLL_MS));
    }
  }

  private updateBodyState(): void {
    const get = this.method.value === 'GET';
    this.body.disabled = get;
    this.body.title = get ? 'A GET request has no body.' : '';
  }

  private showProgress(text: string): void {
    this.result.replaceChildren(h('div', { class: 'jp-scripting-progress' }, text));
  }

  private showError(text: string): void {
    this.result.replaceChildren(h('div', { class: 'jp-scripting-error', role: 'alert' }, text));
  }

  private showAnswer(answer: IAnswer, status: number, executionId?: string): void {
    const id = executionId ?? answer.executionId;
    const links = h('div', { class: 'jp-scripting-run-links' });
    if (id) {
      links.append(
        button('Open executed notebook', () =>
          this.actions.openExecutedNotebook(this.script, id)
        ),
        button('Logs', () => this.actions.openLogs(this.script))
      );
    }
    this.result.replaceChildren(renderAnswer(answer, status), links);
  }

  private method: HTMLSelectElement;
  private contentType: HTMLInputElement;
  private headers: HTMLTextAreaElement;
  private body: HTMLTextAreaElement;
  private background: HTMLInputElement;
  private runButton: HTMLButtonElement;
  private result: HTMLElement;
  private _runs = 0;
}
