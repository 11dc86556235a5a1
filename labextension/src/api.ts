/**
 * The typed client of the /scripting HTTP API (README "HTTP API"); the types mirror
 * `jupyter_scripting/models.py` one to one.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { readEventStream } from './sse';

/** A script (`script_model`). */
export interface IScript {
  scriptId: string;
  name: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  timeout: number | null;
  /** The parameters setting (README, "Parameters"); null: by the notebook. */
  parameters: 'strict' | 'lenient' | 'off' | null;
  /** Where its runs' ends are POSTed (README, "Webhooks"); null: nowhere. */
  webhook: IWebhook | null;
  /**
   * The names of the tenant's variables its runs get (README, "Variables and
   * secrets"), in the order set; empty: none.
   */
  variables: string[];
  /** Its background runs' retries (README, "Retries"); null: none. */
  retries: IRetries | null;
}

/** A script's retries (`RetrySpec.model`). */
export interface IRetries {
  /** At most this many more attempts (1–10). */
  max: number;
  /** The statuses that are retried. */
  on: number[];
  /** Seconds from a failed attempt's end to the first retry, doubled for each next. */
  backoff: number;
}

/** A script's webhook (`WebhookSpec.model`). */
export interface IWebhook {
  url: string;
  events: Array<'finished' | 'failed'>;
  /** Whether synchronous runs' ends are POSTed too (background runs' always are). */
  sync: boolean;
}

/** A script in the listing (`script_list_item`): with its newest run of any version. */
export interface IScriptListItem extends IScript {
  lastExecution: IExecution | null;
  /** Its enabled schedule that ticks soonest (README, "Schedules"), if any. */
  nextScheduledRun: IScheduledRun | null;
  /** The newest webhook deliveries of its runs (at most 3), newest first. */
  lastDeliveries: IDelivery[];
}

/** A schedule's next tick, in short (`scheduled_run`). */
export interface IScheduledRun {
  scheduleId: string;
  cron: string;
  timezone: string;
  at: string;
}

/** `GET /scripting/script`. */
export interface IScriptList {
  scripts: IScriptListItem[];
  moreElements: boolean;
}

export type ExecutionState = 'queued' | 'running' | 'finished' | 'failed';
export type ExecutionMode = 'sync' | 'background';

/** One entry of `filteredLogs` (`execution_model`). */
export interface IExecution {
  executionId: string;
  scriptId: string;
  executionDate: string;
  statusCode: number | null;
  state: ExecutionState;
  version: number;
  mode: ExecutionMode;
  method: string;
  durationMs: number | null;
  /** Which attempt of a retried background run (1: the first, or the only one). */
  attempt: number;
  /** On a retry: the first attempt's id. */
  retryOf: string | null;
  /** On an attempt that was retried: the next attempt's id. */
  retriedBy: string | null;
}

/** `GET /scripting/log/script/{id}`. */
export interface IExecutionList {
  filteredLogs: IExecution[];
  moreElements: boolean;
}

/** One try of a delivery (`delivery_model`'s `attempts`). */
export interface IDeliveryAttempt {
  /** 1 for the first try. */
  attempt: number;
  at: string;
  /** The node that sent it. */
  node: string;
  /** The receiver's status; null: no answer (refused, unreachable, timed out). */
  statusCode: number | null;
  /** Why it failed; null: delivered. */
  error: string | null;
  durationMs: number;
}

export type DeliveryState = 'pending' | 'delivered' | 'failed';

/**
 * Where a run's end was POSTed (`delivery_model`): `pending` until the receiver answers
 * a 2xx (`delivered`) or until `giveUpAt` (`failed`).
 */
export interface IDelivery {
  deliveryId: string;
  executionId: string;
  url: string;
  event: 'finished' | 'failed';
  state: DeliveryState;
  createdAt: string;
  /** The next try of a pending delivery; null once delivered or given up. */
  nextAttemptAt: string | null;
  giveUpAt: string;
  /** Oldest first. */
  attempts: IDeliveryAttempt[];
}

/** `GET /scripting/log/script/{id}/execution/{id}/deliveries`. */
export interface IDeliveryList {
  executionId: string;
  /** Oldest first; empty when the run had nowhere to go, or has not ended. */
  deliveries: IDelivery[];
}

/**
 * A tenant's variable or secret (`variable_model`). `value` only on a plain variable
 * read by name (`getVariable`): a secret's value is never shown, and the list shows none.
 */
export interface IVariable {
  name: string;
  secret: boolean;
  createdAt: string;
  updatedAt: string;
  value?: string;
}

/** `GET /scripting/variables`, sorted by name. */
export interface IVariableList {
  variables: IVariable[];
}

/** The body of `PUT /scripting/variables/{name}` (`parse_value`). */
export interface IVariablePut {
  value: string;
  /** The server's default is true. */
  secret: boolean;
}

/** A variable's name: an environment variable's name (`variables.NAME`). */
export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** The fewest characters of a secret's value (`variables.MIN_SECRET_LENGTH`). */
export const MIN_SECRET_LENGTH = 4;
/** The most variables one script may ask for (`variables.MAX_PER_SCRIPT`). */
export const MAX_VARIABLES_PER_SCRIPT = 50;

/** What is wrong with one parameter of a run (a 422 lists them). */
export interface IProblem {
  /** The parameter's name; `(body)` when the body as a whole is wrong. */
  name: string;
  problem: string;
}

/** The JSON body of every error the server answers. */
export interface IErrorBody {
  message: string;
  reason: string;
  executionId: string | null;
  /** Only on a 422 (`invalid-parameters`): one entry per bad parameter. */
  problems?: IProblem[];
}

export type JsonType =
  'integer' | 'number' | 'string' | 'boolean' | 'array' | 'object' | 'null';

/** One parameter of the `parameters` cell, as a JSON Schema property. */
export interface IParameterSchema {
  /** Absent when any value will do. */
  type?: JsonType | JsonType[];
  /** Absent when the notebook's default is no JSON literal (e.g. `today()`). */
  default?: unknown;
  /** The comment after the assignment. */
  description?: string;
  /** The assignment as written, e.g. `count: int = 3`. */
  'x-python': string;
}

/**
 * `GET /scripting/script/{id}/schema`: the JSON Schema (2020-12) of a run's JSON body.
 * A script that takes no parameters has neither `properties` nor `x-parameters`.
 */
export interface IRunSchema {
  $schema: string;
  title: string;
  type: 'object';
  description?: string;
  properties?: { [name: string]: IParameterSchema };
  additionalProperties?: boolean;
  'x-parameters'?: 'strict' | 'lenient';
  /** The script and the version the schema is of. */
  'x-script'?: { scriptId: string; name?: string; version: number };
}

/**
 * The events of a running execution (`…/execution/{id}/events`), by kind. `id` grows
 * from 1; `status` is the last one.
 */
export type ExecutionEvent =
  | { id: number; kind: 'state'; state: 'queued' | 'running' }
  | {
      id: number;
      kind: 'progress';
      /** The `cell`-th (1-based) of `cells` code cells has started. */
      cell: number;
      cells: number;
      /** Its index among all the notebook's cells. */
      index: number;
    }
  | { id: number; kind: 'stream'; name: 'stdout' | 'stderr'; text: string }
  | {
      id: number;
      kind: 'display';
      output_type: 'display_data' | 'execute_result' | 'update_display_data';
      data: { [mime: string]: unknown };
      metadata: { [key: string]: unknown };
    }
  | {
      id: number;
      kind: 'cell-error';
      ename: string;
      evalue: string;
      traceback: string[];
    }
  | {
      id: number;
      kind: 'status';
      state: 'finished' | 'failed';
      statusCode: number | null;
      durationMs: number | null;
      /** The error's reason of a failed run (`script-error`, `timeout`…). */
      reason?: string | null;
      /** A failed run's error message. */
      message?: string;
    };

export type ExecutionEventKind = ExecutionEvent['kind'];

const EVENT_KINDS: ExecutionEventKind[] = [
  'state',
  'progress',
  'stream',
  'display',
  'cell-error',
  'status'
];

/** An nbformat v4 notebook, as far as this client cares. */
export interface INotebookContent {
  nbformat: number;
  nbformat_minor: number;
  metadata: { [key: string]: unknown };
  cells: unknown[];
}

export type HttpMethod = 'POST' | 'GET' | 'PUT' | 'DELETE' | 'PATCH';
export const HTTP_METHODS: HttpMethod[] = [
  'POST',
  'GET',
  'PUT',
  'DELETE',
  'PATCH'
];

/** What a run request sends. */
export interface IRunRequest {
  method: HttpMethod;
  /** Sent as `Content-Type` when there is a body. */
  contentType?: string;
  headers?: [string, string][];
  body?: string;
}

/** An HTTP answer read whole: the script's answer, or a log's content. */
export interface IAnswer {
  status: number;
  statusText: string;
  headers: [string, string][];
  /** The media type without parameters, e.g. `application/json`; '' when none. */
  contentType: string;
  body: ArrayBuffer;
  /** Milliseconds from sending the request to having read the whole answer. */
  durationMs: number;
  executionId: string | null;
  /** The server's JSON error document, when the answer is one. */
  error: IErrorBody | null;
}

/** The state of one execution's content: still going (202) or its answer. */
export type ExecutionContent =
  | { done: false; executionId: string; state: ExecutionState }
  | { done: true; answer: IAnswer; statusCode: number | null };

/**
 * An error the server answered (or a request that never got an answer: status 0).
 * `message` is the server's own message when it sent the JSON error document.
 */
export class ScriptingApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string = '',
    readonly executionId: string | null = null,
    readonly problems: IProblem[] = []
  ) {
    super(message);
    this.name = 'ScriptingApiError';
  }

  /** A line for the UI, e.g. `404 Not Found: No script 3f0c…`. */
  get description(): string {
    return this.status === 0
      ? `The server could not be reached: ${this.message}`
      : `${this.status} ${statusLabel(this.status)}: ${this.message}`;
  }
}

/** A message for the UI from any error. */
export function describe(error: unknown, what: string): string {
  const detail =
    error instanceof ScriptingApiError
      ? error.description
      : error instanceof Error
        ? error.message
        : String(error);
  return `${what}: ${detail}`;
}

const LABELS: { [status: number]: string } = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Payload Too Large',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout'
};

/** The standard label of an HTTP status ('' for the unusual ones). */
export function statusLabel(status: number): string {
  return LABELS[status] ?? '';
}

/** The media type of a `Content-Type` value, lower case and without parameters. */
export function mediaType(contentType: string | null): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

function isErrorBody(value: unknown): value is IErrorBody {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const v = value as { [key: string]: unknown };
  return typeof v.message === 'string' && typeof v.reason === 'string';
}

function isProblem(value: unknown): value is IProblem {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const v = value as { [key: string]: unknown };
  return typeof v.name === 'string' && typeof v.problem === 'string';
}

/** The server's error document in `text`, if it is one. */
export function parseErrorBody(text: string): IErrorBody | null {
  try {
    const value: unknown = JSON.parse(text);
    if (isErrorBody(value)) {
      const body: IErrorBody = {
        message: value.message,
        reason: value.reason,
        executionId: value.executionId ?? null
      };
      if (Array.isArray(value.problems)) {
        body.problems = value.problems.filter(isProblem);
      }
      return body;
    }
  } catch {
    // not JSON: no error document
  }
  return null;
}

/** The client. One per server connection; every method rejects with `ScriptingApiError`. */
export class ScriptingClient {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  /** The absolute URL of an API path (`script/ID/run`). */
  url(...parts: string[]): string {
    return URLExt.join(this.serverSettings.baseUrl, 'scripting', ...parts);
  }

  /** The URL that runs a script synchronously. */
  runUrl(scriptId: string): string {
    return this.url('script', scriptId, 'run');
  }

  async listScripts(limit = 1000, offset = 0): Promise<IScriptList> {
    return this.json<IScriptList>(
      this.url('script') + query({ limit, offset })
    );
  }

  async getScript(scriptId: string): Promise<IScript> {
    return this.json<IScript>(this.url('script', scriptId));
  }

  async createScript(
    name: string,
    notebook: INotebookContent
  ): Promise<IScript> {
    return this.json<IScript>(this.url('script'), {
      method: 'POST',
      body: JSON.stringify({ name, notebook })
    });
  }

  /** A new version of the script (its name unchanged unless given). */
  async updateScript(
    scriptId: string,
    notebook: INotebookContent,
    name?: string
  ): Promise<IScript> {
    const body: { notebook: INotebookContent; name?: string } = { notebook };
    if (name !== undefined) {
      body.name = name;
    }
    return this.json<IScript>(this.url('script', scriptId), {
      method: 'PUT',
      body: JSON.stringify(body)
    });
  }

  async renameScript(scriptId: string, name: string): Promise<IScript> {
    return this.json<IScript>(this.url('script', scriptId), {
      method: 'PATCH',
      body: JSON.stringify({ name })
    });
  }

  async deleteScript(scriptId: string): Promise<void> {
    await this.fetch(this.url('script', scriptId), { method: 'DELETE' });
  }

  /** Which of the tenant's variables the script's runs get (null or []: none). */
  async setScriptVariables(
    scriptId: string,
    names: string[] | null
  ): Promise<IScript> {
    return this.json<IScript>(this.url('script', scriptId), {
      method: 'PATCH',
      body: JSON.stringify({ variables: names })
    });
  }

  /** The tenant's variables, sorted by name (no values). 403 for a runner key. */
  async listVariables(): Promise<IVariableList> {
    return this.json<IVariableList>(this.url('variables'));
  }

  /** One variable, with its value when it is a plain one. */
  async getVariable(name: string): Promise<IVariable> {
    return this.json<IVariable>(
      this.url('variables', encodeURIComponent(name))
    );
  }

  /** Create or replace a variable (its value is never in the answer). */
  async putVariable(name: string, body: IVariablePut): Promise<IVariable> {
    return this.json<IVariable>(
      this.url('variables', encodeURIComponent(name)),
      { method: 'PUT', body: JSON.stringify(body) }
    );
  }

  async deleteVariable(name: string): Promise<void> {
    await this.fetch(this.url('variables', encodeURIComponent(name)), {
      method: 'DELETE'
    });
  }

  /** The parameters of the latest version, as the JSON Schema of a run's body. */
  async schema(scriptId: string): Promise<IRunSchema> {
    return this.json<IRunSchema>(this.url('script', scriptId, 'schema'));
  }

  /** The notebook of a version (the latest by default). */
  async getNotebook(
    scriptId: string,
    version?: number
  ): Promise<INotebookContent> {
    const q = version === undefined ? '' : query({ version });
    return this.json<INotebookContent>(
      this.url('script', scriptId, 'notebook') + q
    );
  }

  /** The executions of a script, newest first (latest version unless `version`). */
  async listExecutions(
    scriptId: string,
    options: { limit?: number; offset?: number; version?: number | 'all' } = {}
  ): Promise<IExecutionList> {
    return this.json<IExecutionList>(
      this.url('log', 'script', scriptId) +
        query({
          limit: options.limit ?? 20,
          offset: options.offset ?? 0,
          ...(options.version === undefined ? {} : { version: options.version })
        })
    );
  }

  /** What a run answered, or that it is not finished yet. */
  async getExecutionContent(
    scriptId: string,
    executionId: string
  ): Promise<ExecutionContent> {
    const url = this.url('log', 'script', scriptId, 'execution', executionId);
    const answer = await readAnswer(
      await this.fetch(url, {}),
      performance.now()
    );
    if (answer.status === 202) {
      const state = JSON.parse(answerText(answer)) as {
        executionId: string;
        state: ExecutionState;
      };
      return {
        done: false,
        executionId: state.executionId,
        state: state.state
      };
    }
    const status = answer.headers.find(
      ([name]) => name === 'x-execution-status'
    );
    return {
      done: true,
      answer,
      statusCode: status ? Number(status[1]) : null
    };
  }

  /**
   * The events of an execution as they happen (from the start, or those after `after`),
   * until its `status` event and the end of the stream. Rejects with a
   * `ScriptingApiError` when the server answers an error (404 for an unknown id);
   * `signal` stops it (an `AbortError`). Events of an unknown kind are skipped.
   */
  async *executionEvents(
    scriptId: string,
    executionId: string,
    options: { after?: number; signal?: AbortSignal } = {}
  ): AsyncGenerator<ExecutionEvent, void, undefined> {
    const url =
      this.url('log', 'script', scriptId, 'execution', executionId, 'events') +
      (options.after === undefined ? '' : query({ after: options.after }));
    const response = await this.fetch(url, {
      headers: { Accept: 'text/event-stream' },
      signal: options.signal
    });
    if (!response.body) {
      throw new ScriptingApiError(0, 'The event stream has no body.');
    }
    for await (const message of readEventStream(response.body)) {
      const event = executionEvent(message.id, message.event, message.data);
      if (event) {
        yield event;
      }
    }
  }

  /** The executed notebook of a run, with its outputs. */
  async getExecutionNotebook(
    scriptId: string,
    executionId: string
  ): Promise<INotebookContent> {
    return this.json<INotebookContent>(
      this.url('log', 'script', scriptId, 'execution', executionId, 'notebook')
    );
  }

  /** Where a run's end was POSTed (its webhook deliveries), oldest first. */
  async listDeliveries(
    scriptId: string,
    executionId: string
  ): Promise<IDeliveryList> {
    return this.json<IDeliveryList>(
      this.url(
        'log',
        'script',
        scriptId,
        'execution',
        executionId,
        'deliveries'
      )
    );
  }

  /**
   * Run a script synchronously. Resolves with whatever the script (or the server)
   * answered, errors included: a script may answer any status. Rejects only when no
   * answer came at all.
   */
  async run(scriptId: string, request: IRunRequest): Promise<IAnswer> {
    const started = performance.now();
    const response = await this.send(
      this.url('script', scriptId, 'run'),
      runInit(request)
    );
    return readAnswer(response, started);
  }

  /** Queue a background run; resolves with its execution id (the server answered 202). */
  async runInBackground(
    scriptId: string,
    request: IRunRequest
  ): Promise<string> {
    const response = await this.fetch(
      this.url('script', scriptId, 'background'),
      runInit(request)
    );
    const body = (await response.json()) as { executionId: string };
    return body.executionId;
  }

  // -- plumbing ---------------------------------------------------------------------

  private async json<T>(url: string, init: RequestInit = {}): Promise<T> {
    const response = await this.fetch(url, init);
    return (await response.json()) as T;
  }

  /** `send`, rejecting every answer that is not 2xx with a `ScriptingApiError`. */
  private async fetch(url: string, init: RequestInit): Promise<Response> {
    const response = await this.send(url, init);
    if (!response.ok) {
      throw await errorOf(response);
    }
    return response;
  }

  private async send(url: string, init: RequestInit): Promise<Response> {
    try {
      // 'no-cache' rather than JupyterLab's 'no-store', which adds a cache-busting
      // query argument that a script would see in `request.query`.
      return await ServerConnection.makeRequest(
        url,
        { cache: 'no-cache', ...init },
        this.serverSettings
      );
    } catch (error) {
      throw new ScriptingApiError(
        0,
        error instanceof Error ? error.message : String(error)
      );
    }
  }
}

function query(params: { [key: string]: string | number }): string {
  return '?' + URLExt.objectToQueryString(params).replace(/^\?/, '');
}

function runInit(request: IRunRequest): RequestInit {
  const headers = new Headers(request.headers ?? []);
  const hasBody = request.method !== 'GET' && !!request.body;
  if (hasBody && request.contentType) {
    headers.set('Content-Type', request.contentType);
  }
  return {
    method: request.method,
    headers,
    body: hasBody ? request.body : undefined
  };
}

/** A typed event from an SSE message, or null for a kind (or a body) it does not know. */
export function executionEvent(
  id: string | null,
  kind: string,
  data: string
): ExecutionEvent | null {
  if (!(EVENT_KINDS as string[]).includes(kind)) {
    return null;
  }
  let fields: unknown;
  try {
    fields = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    return null;
  }
  return { ...fields, id: Number(id ?? NaN), kind } as ExecutionEvent;
}

async function errorOf(response: Response): Promise<ScriptingApiError> {
  const text = await response.text().catch(() => '');
  const body = parseErrorBody(text);
  if (body) {
    return new ScriptingApiError(
      response.status,
      body.message,
      body.reason,
      body.executionId,
      body.problems
    );
  }
  return new ScriptingApiError(
    response.status,
    text.trim().slice(0, 300) || response.statusText || 'no message'
  );
}

/** The answer's body as text (UTF-8, or the charset the server named). */
export function answerText(answer: IAnswer): string {
  const charset = answer.headers
    .find(([name]) => name === 'content-type')?.[1]
    .match(/charset=([^;]+)/i)?.[1]
    ?.trim();
  try {
    return new TextDecoder(charset || 'utf-8').decode(answer.body);
  } catch {
    return new TextDecoder('utf-8').decode(answer.body);
  }
}

async function readAnswer(
  response: Response,
  started: number
): Promise<IAnswer> {
  const contentType = response.headers.get('Content-Type');
  const body = await response.arrayBuffer();
  const durationMs = performance.now() - started;
  const headers: [string, string][] = [];
  response.headers.forEach((value, name) =>
    headers.push([name.toLowerCase(), value])
  );
  headers.sort(([a], [b]) => a.localeCompare(b));
  const type = mediaType(contentType);
  const answer: IAnswer = {
    status: response.status,
    statusText: response.statusText || statusLabel(response.status),
    headers,
    contentType: type,
    body,
    durationMs,
    executionId: response.headers.get('X-Execution-Id'),
    error: null
  };
  if (response.status >= 400 && type === 'application/json') {
    answer.error = parseErrorBody(answerText(answer));
  }
  return answer;
}
