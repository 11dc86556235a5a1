/** The run dialog: send a request to a script, see its answer; or run it in the background. */
import { Widget } from '@lumino/widgets';

import {
  HTTP_METHODS,
  HttpMethod,
  IAnswer,
  IRunRequest,
  ScriptingApiError,
  ScriptingClient,
  describe
} from './api';
import { ObjectUrls, button, formatDuration, h } from './dom';
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
      throw new Error(
        `Not a header line ("Name: value"): ${line.trim().slice(0, 60)}`
      );
    }
    headers.push([match[1], match[2].trim()]);
  }
  return headers;
}

/**
 * The run dialog of one script (a main-area tab). It reads the script when it opens, so
 * that a tab restored for a script deleted meanwhile shows the server's error at once.
 */
export class RunWidget extends Widget {
  constructor(
    private readonly client: ScriptingClient,
    script: IScriptRef,
    private readonly actions: IScriptActions
  ) {
    super();
    this._script = { ...script };
    this.id = `jp-scripting-run-${script.scriptId}`;
    this.setTitle();
    this.title.closable = true;
    this.addClass('jp-scripting-run');

    this.method = h('select', {
      class: 'jp-scripting-method',
      'aria-label': 'Method'
    });
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
    this.background = h('input', {
      type: 'checkbox',
      class: 'jp-scripting-background'
    });
    this.runButton = button('Run', () => void this.run(), {
      class: 'jp-Button jp-mod-styled jp-mod-accept jp-scripting-run-button'
    });
    this.result = h('div', {
      class: 'jp-scripting-result',
      'aria-live': 'polite'
    });

    const field = (label: string, control: HTMLElement) =>
      h(
        'label',
        { class: 'jp-scripting-field' },
        h('span', {}, label),
        control
      );
    this.node.append(
      h(
        'div',
        { class: 'jp-scripting-run-form' },
        h(
          'div',
          { class: 'jp-scripting-run-url' },
          h('code', {}, client.runUrl(script.scriptId))
        ),
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
    this.ready = this.readScript();
  }

  /** The script (its name as the server last said). */
  get script(): IScriptRef {
    return this._script;
  }

  /** Settles when the script has been read (or its error shown). */
  readonly ready: Promise<void>;

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
    if (this.isDisposed) {
      return;
    }
    this._runs += 1; // stops a background run being followed
    this.urls.dispose();
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

  private async runInBackground(
    run: number,
    request: IRunRequest
  ): Promise<void> {
    const started = performance.now();
    const executionId = await this.client.runInBackground(
      this.script.scriptId,
      request
    );
    for (;;) {
      if (run !== this._runs) {
        return;
      }
      const content = await this.client.getExecutionContent(
        this.script.scriptId,
        executionId
      );
      if (content.done) {
        if (run === this._runs) {
          content.answer.durationMs = performance.now() - started;
          this.showAnswer(
            content.answer,
            content.statusCode ?? content.answer.status,
            executionId
          );
        }
        return;
      }
      if (run !== this._runs) {
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

  /** The script's current name for the title; its error when the server has none. */
  private async readScript(): Promise<void> {
    try {
      const script = await this.client.getScript(this._script.scriptId);
      this._script.name = script.name;
      this.setTitle();
    } catch (error) {
      // A run started meanwhile shows its own answer.
      if (this._runs === 0 && !this.isDisposed) {
        this.showError(describe(error, 'Could not read the script'));
      }
    }
  }

  private setTitle(): void {
    const { name, scriptId } = this._script;
    this.title.label = `Run · ${name}`;
    this.title.caption = `Run the script ${name} (${scriptId})`;
  }

  private updateBodyState(): void {
    const get = this.method.value === 'GET';
    this.body.disabled = get;
    this.body.title = get ? 'A GET request has no body.' : '';
  }

  /** Replace what the result area shows (revoking the object URLs of what it showed). */
  private showResult(...nodes: Node[]): void {
    this.urls.revokeAll();
    this.result.replaceChildren(...nodes);
  }

  private showProgress(text: string): void {
    this.showResult(h('div', { class: 'jp-scripting-progress' }, text));
  }

  private showError(text: string): void {
    this.showResult(
      h('div', { class: 'jp-scripting-error', role: 'alert' }, text)
    );
  }

  private showAnswer(
    answer: IAnswer,
    status: number,
    executionId?: string
  ): void {
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
    this.urls.revokeAll();
    this.result.replaceChildren(renderAnswer(answer, this.urls, status), links);
  }

  private method: HTMLSelectElement;
  private contentType: HTMLInputElement;
  private headers: HTMLTextAreaElement;
  private body: HTMLTextAreaElement;
  private background: HTMLInputElement;
  private runButton: HTMLButtonElement;
  private result: HTMLElement;
  /** The object URLs of the answer shown. */
  private urls = new ObjectUrls();
  private _script: IScriptRef;
  private _runs = 0;
}
