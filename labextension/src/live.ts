/**
 * The live view of a running execution: its events (`…/execution/{id}/events`) as they
 * come — which cell runs, what it prints, what it displays — then its final status.
 * Shown by the run dialog for a background run and by the logs view for a run that is
 * not finished; both fall back to reading the log when the stream cannot be had.
 */
import { IDisposable } from '@lumino/disposable';

import {
  ExecutionContent,
  ExecutionEvent,
  ExecutionState,
  ScriptingApiError,
  ScriptingClient
} from './api';
import { ObjectUrls, formatDuration, h, statusBadge } from './dom';
import { renderMimeBundle } from './render';

/** The final event of an execution. */
export type StatusEvent = Extract<ExecutionEvent, { kind: 'status' }>;

/** How often a broken stream is opened again (with the id of the last event seen). */
const RECONNECTS = 3;
const RECONNECT_MS = 500;
/** How often the log is read while a run is not finished (when there is no stream). */
export const POLL_MS = 1000;
/** The most text one stream output keeps (its end): a chatty run must not eat memory. */
const MAX_STREAM_CHARS = 200_000;

// ANSI colour codes of IPython's tracebacks: not for a <pre>.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

/**
 * Read the log of an execution until it is finished: its content, or null when
 * `current()` says nobody waits any more. `onPending` hears each not-finished state.
 */
export async function waitForContent(
  client: ScriptingClient,
  scriptId: string,
  executionId: string,
  current: () => boolean,
  onPending: (state: ExecutionState) => void = () => undefined
): Promise<Extract<ExecutionContent, { done: true }> | null> {
  for (;;) {
    if (!current()) {
      return null;
    }
    const content = await client.getExecutionContent(scriptId, executionId);
    if (!current()) {
      return null;
    }
    if (content.done) {
      return content;
    }
    onPending(content.state);
    await sleep(POLL_MS);
  }
}

/** One execution followed live. `follow()` once; `dispose()` stops following. */
export class LiveExecution implements IDisposable {
  constructor(
    private readonly client: ScriptingClient,
    private readonly scriptId: string,
    readonly executionId: string
  ) {
    this.state = h(
      'div',
      { class: 'jp-scripting-live-state', 'aria-live': 'polite' },
      `Execution ${executionId}: waiting for its events…`
    );
    this.bar = h('progress', {
      class: 'jp-scripting-live-bar',
      'aria-label': 'Code cells run'
    });
    this.cell = h('span', { class: 'jp-scripting-live-cell' });
    this.progress = h(
      'div',
      { class: 'jp-scripting-live-progress', hidden: '' },
      this.bar,
      this.cell
    );
    this.outputs = h('div', {
      class: 'jp-scripting-live-outputs',
      'aria-label': 'Outputs so far'
    });
    this.node = h(
      'div',
      { class: 'jp-scripting-live', 'data-execution-id': executionId },
      this.state,
      this.progress,
      this.outputs
    );
  }

  readonly node: HTMLElement;

  /** The id of the last event seen (0 before the first). */
  get lastEventId(): number {
    return this._lastId;
  }

  get isDisposed(): boolean {
    return this._abort.signal.aborted;
  }

  dispose(): void {
    this._abort.abort();
    this.urls.dispose();
  }

  /**
   * Show the events until the `status` one, opening the stream again (after the last
   * event seen) when it breaks. Resolves with the status event; with null when the
   * stream could not be had (the server answered an error, or it broke too often) or
   * the view was disposed: the caller reads the log instead.
   */
  async follow(): Promise<StatusEvent | null> {
    let failures = 0;
    while (!this.isDisposed) {
      const before = this._lastId;
      try {
        for await (const event of this.client.executionEvents(
          this.scriptId,
          this.executionId,
          {
            after: this._lastId || undefined,
            signal: this._abort.signal
          }
        )) {
          if (this.isDisposed) {
            return null;
          }
          this.apply(event);
          if (event.kind === 'status') {
            return event;
          }
        }
      } catch (error) {
        if (this.isDisposed) {
          return null;
        }
        if (error instanceof ScriptingApiError && error.status !== 0) {
          return null; // an answer, not a broken connection: no use asking again
        }
      }
      failures = this._lastId > before ? 0 : failures + 1;
      if (failures > RECONNECTS) {
        return null;
      }
      await sleep(RECONNECT_MS);
    }
    return null;
  }

  /** Show one event (events already seen, as after a reconnection, are skipped). */
  apply(event: ExecutionEvent): void {
    if (Number.isFinite(event.id)) {
      if (event.id <= this._lastId) {
        return;
      }
      this._lastId = event.id;
    }
    switch (event.kind) {
      case 'state':
        this.state.textContent = `Execution ${this.executionId}: ${event.state}…`;
        break;
      case 'progress':
        this.progress.hidden = false;
        this.bar.max = Math.max(event.cells, 1);
        this.bar.value = Math.min(event.cell, this.bar.max);
        this.cell.textContent = `cell ${event.cell} of ${event.cells}`;
        this.state.textContent = `Execution ${this.executionId}: running…`;
        break;
      case 'stream':
        this.appendStream(event.name, event.text);
        break;
      case 'display':
        this.showDisplay(event.output_type, event.data);
        break;
      case 'cell-error':
        this.stream = null;
        this.outputs.append(
          h(
            'pre',
            { class: 'jp-scripting-live-error' },
            event.traceback.length
              ? event.traceback.join('\n').replace(ANSI, '')
              : `${event.ename}: ${event.evalue}`
          )
        );
        break;
      case 'status':
        if (event.state === 'finished' && !this.progress.hidden) {
          this.bar.value = this.bar.max;
        }
        this.state.replaceChildren(
          `Execution ${this.executionId}: ${event.state} `,
          statusBadge(event.statusCode, event.state),
          event.durationMs === null
            ? ''
            : ` in ${formatDuration(event.durationMs)}`,
          event.message ? ` — ${event.message}` : ''
        );
        this.node.classList.add('jp-mod-done');
        break;
    }
  }

  private appendStream(name: 'stdout' | 'stderr', text: string): void {
    if (!this.stream || this.stream.dataset.name !== name) {
      this.stream = h('pre', {
        class: `jp-scripting-live-stream jp-scripting-live-${name}`,
        'data-name': name
      });
      this.outputs.append(this.stream);
    }
    const all = (this.stream.textContent ?? '') + text;
    this.stream.textContent =
      all.length > MAX_STREAM_CHARS ? all.slice(-MAX_STREAM_CHARS) : all;
  }

  private showDisplay(
    type: 'display_data' | 'execute_result' | 'update_display_data',
    data: { [mime: string]: unknown }
  ): void {
    const node = h(
      'div',
      { class: 'jp-scripting-live-display' },
      renderMimeBundle(data, this.urls)
    );
    // The events carry no display id: an update replaces the last display shown.
    if (type === 'update_display_data' && this.display?.isConnected) {
      this.display.replaceWith(node);
    } else {
      this.stream = null;
      this.outputs.append(node);
    }
    this.display = node;
  }

  private state: HTMLElement;
  private progress: HTMLElement;
  private bar: HTMLProgressElement;
  private cell: HTMLElement;
  private outputs: HTMLElement;
  /** The output that stream text of the same name goes on into. */
  private stream: HTMLElement | null = null;
  private display: HTMLElement | null = null;
  private urls = new ObjectUrls();
  private _abort = new AbortController();
  private _lastId = 0;
}
