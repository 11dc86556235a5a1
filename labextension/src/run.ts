/**
 * The run dialog: send a request to a script, see its answer; or run it in the
 * background and watch it run. A script with parameters gets a form built from its
 * schema; the raw request (content type and body) is a toggle away.
 */
import { Widget } from '@lumino/widgets';

import {
  HTTP_METHODS,
  HttpMethod,
  IAnswer,
  IProblem,
  IRunRequest,
  IRunSchema,
  ScriptingApiError,
  ScriptingClient,
  describe
} from './api';
import { ObjectUrls, button, formatDuration, h } from './dom';
import { FormProblems, ParametersForm } from './form';
import { LiveExecution, waitForContent } from './live';
import { renderAnswer, renderProblems } from './render';

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
    this.rawToggle = h('input', {
      type: 'checkbox',
      class: 'jp-scripting-raw-toggle'
    });
    this.rawToggle.addEventListener('change', () => this.updateMode());
    this.rawToggleLabel = h(
      'label',
      {
        class: 'jp-scripting-check jp-scripting-raw-toggle-label',
        hidden: ''
      },
      this.rawToggle,
      ' Raw request (content type and body as typed)'
    );
    this.formArea = h('div', { class: 'jp-scripting-form-area' });
    this.schemaNote = h('div', {
      class: 'jp-scripting-schema-note',
      hidden: ''
    });
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
    this.contentTypeField = field('Content type', this.contentType);
    this.bodyField = field('Body', this.body);
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
          this.contentTypeField,
          types,
          this.rawToggleLabel
        ),
        this.schemaNote,
        field('Headers', this.headers),
        this.formArea,
        this.bodyField,
        h(
          'div',
          { class: 'jp-scripting-run-row' },
          h(
            'label',
            { class: 'jp-scripting-check' },
            this.background,
            ' Run in background (202 at once, then watch it run)'
          ),
          this.runButton
        )
      ),
      this.result
    );
    this.updateMode();
    this.ready = Promise.all([this.readScript(), this.readSchema()]).then(
      () => undefined
    );
  }

  /** The script (its name as the server last said). */
  get script(): IScriptRef {
    return this._script;
  }

  /** Settles when the script has been read (or its error shown). */
  readonly ready: Promise<void>;

  /** The parameters form, when the script has parameters (and its schema was read). */
  get form(): ParametersForm | null {
    return this._form;
  }

  /** Whether the raw request is sent rather than the parameters form. */
  get raw(): boolean {
    return !this._form || this.rawToggle.checked;
  }

  set raw(raw: boolean) {
    this.rawToggle.checked = raw;
    this.updateMode();
  }

  /**
   * The request the dialog describes: the form's values as a JSON body, or the raw
   * body. Throws on malformed headers, and `FormProblems` on fields filled wrongly.
   */
  request(): IRunRequest {
    const method = this.method.value as HttpMethod;
    const headers = parseHeaders(this.headers.value);
    if (!this.raw && this._form) {
      return {
        method,
        contentType: 'application/json',
        headers,
        body: JSON.stringify(this._form.values())
      };
    }
    return {
      method,
      contentType: this.contentType.value.trim() || undefined,
      headers,
      body: this.body.value
    };
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._runs += 1; // stops a background run being followed
    this.live?.dispose();
    this.urls.dispose();
    super.dispose();
  }

  async run(): Promise<void> {
    const run = ++this._runs;
    this.live?.dispose();
    this.live = null;
    this._form?.clearProblems();
    let request: IRunRequest;
    try {
      request = this.request();
    } catch (error) {
      if (error instanceof FormProblems) {
        this.showProblems(error.problems);
        this.showError('Some parameters cannot be sent:', error.problems);
      } else {
        this.showError((error as Error).message);
      }
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
          this.showProblems(answer.error?.problems ?? []);
        }
      }
    } catch (error) {
      if (run === this._runs) {
        const problems =
          error instanceof ScriptingApiError ? error.problems : [];
        this.showProblems(problems);
        this.showError(
          error instanceof ScriptingApiError
            ? error.description
            : String(error),
          problems
        );
      }
    } finally {
      this.runButton.disabled = false;
    }
  }

  /**
   * Queue the run, follow it live (its event stream) until it ends, then show its
   * answer from the log. Without the stream, the log is read until the run is done.
   */
  private async runInBackground(
    run: number,
    request: IRunRequest
  ): Promise<void> {
    const started = performance.now();
    const executionId = await this.client.runInBackground(
      this.script.scriptId,
      request
    );
    if (run !== this._runs) {
      return;
    }
    const live = new LiveExecution(
      this.client,
      this.script.scriptId,
      executionId
    );
    this.live = live;
    this.showResult(live.node);
    await live.follow();
    const content = await waitForContent(
      this.client,
      this.script.scriptId,
      executionId,
      () => run === this._runs,
      state =>
        this.showResult(
          live.node,
          h(
            'div',
            { class: 'jp-scripting-progress' },
            `Background run ${executionId}: ${state} (${formatDuration(
              performance.now() - started
            )})…`
          )
        )
    );
    if (content) {
      content.answer.durationMs = performance.now() - started;
      this.showAnswer(
        content.answer,
        content.statusCode ?? content.answer.status,
        executionId
      );
    }
  }

  /**
   * Read the script's schema: a form for its parameters, or the raw body only. Read
   * again each time the tab is shown: a new version may take other parameters (the
   * form is rebuilt only then, so what was typed stays otherwise).
   */
  private async readSchema(): Promise<void> {
    let schema: IRunSchema;
    try {
      schema = await this.client.schema(this._script.scriptId);
    } catch {
      return; // the raw request works without it (readScript shows a missing script)
    }
    const key = JSON.stringify([
      schema.properties ?? null,
      schema['x-parameters'] ?? null
    ]);
    if (this.isDisposed || key === this._schemaKey) {
      return;
    }
    this._schemaKey = key;
    const parameters =
      !!schema.properties && Object.keys(schema.properties).length > 0;
    this._form = parameters ? new ParametersForm(schema, this.id) : null;
    this.formArea.replaceChildren(...(this._form ? [this._form.node] : []));
    this.rawToggleLabel.hidden = !parameters;
    this.schemaNote.textContent = parameters ? '' : (schema.description ?? '');
    this.schemaNote.hidden = parameters || !schema.description;
    this.updateMode();
  }

  protected onAfterShow(): void {
    if (this._schemaKey !== null) {
      void this.readSchema();
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
    if (this._form) {
      this._form.disabled = get;
      this._form.node.title = get
        ? "A GET request has no body: the notebook's defaults apply."
        : '';
    }
  }

  /**
   * Show the form or the raw body. Switching to raw starts from the form's body, unless
   * the raw body was edited since it was last filled so.
   */
  private updateMode(): void {
    const raw = this.raw;
    if (this._form && raw && this.body.value === this._filledBody) {
      try {
        this.body.value = this._filledBody = JSON.stringify(
          this._form.values()
        );
        this.contentType.value = 'application/json';
      } catch {
        // fields not sendable: the raw body stays as it was
      }
    }
    this.formArea.hidden = raw;
    this.bodyField.hidden = !raw;
    this.contentTypeField.hidden = !raw;
    this.updateBodyState();
  }

  /** Each problem of a 422 (or of the form) by its field. */
  private showProblems(problems: IProblem[]): void {
    this._form?.showProblems(problems);
  }

  /** Replace what the result area shows (revoking the object URLs of what it showed). */
  private showResult(...nodes: Node[]): void {
    this.urls.revokeAll();
    this.result.replaceChildren(...nodes);
  }

  private showProgress(text: string): void {
    this.showResult(h('div', { class: 'jp-scripting-progress' }, text));
  }

  private showError(text: string, problems: IProblem[] = []): void {
    this.showResult(
      h(
        'div',
        { class: 'jp-scripting-error', role: 'alert' },
        text,
        problems.length ? renderProblems(problems) : null
      )
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
    this.result.replaceChildren(
      ...(this.live ? [this.live.node] : []),
      renderAnswer(answer, this.urls, status),
      links
    );
  }

  private method: HTMLSelectElement;
  private contentType: HTMLInputElement;
  private headers: HTMLTextAreaElement;
  private body: HTMLTextAreaElement;
  private bodyField: HTMLElement;
  private contentTypeField: HTMLElement;
  private rawToggle: HTMLInputElement;
  private rawToggleLabel: HTMLElement;
  private formArea: HTMLElement;
  private schemaNote: HTMLElement;
  private _form: ParametersForm | null = null;
  /** What the form was built from (null until the schema is first read). */
  private _schemaKey: string | null = null;
  /** The raw body as the form last filled it (at first, the default `{}`). */
  private _filledBody = '{}';
  /** The background run followed live, if any. */
  private live: LiveExecution | null = null;
  private background: HTMLInputElement;
  private runButton: HTMLButtonElement;
  private result: HTMLElement;
  /** The object URLs of the answer shown. */
  private urls = new ObjectUrls();
  private _script: IScriptRef;
  private _runs = 0;
}
