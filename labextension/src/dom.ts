/** Small DOM helpers shared by the widgets (no framework: the widgets are plain Lumino). */
import { IDisposable } from '@lumino/disposable';

type Child = Node | string | null | undefined | false;

/** `h('div', {class: 'x'}, 'text', child)`: an element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: { [name: string]: string | undefined } = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) {
      element.setAttribute(name, value);
    }
  }
  for (const child of children) {
    if (child) {
      element.append(child);
    }
  }
  return element;
}

/** A button that calls `onClick`. */
export function button(
  label: string,
  onClick: () => void,
  attributes: { [name: string]: string | undefined } = {}
): HTMLButtonElement {
  const node = h(
    'button',
    {
      type: 'button',
      class: 'jp-Button jp-mod-styled jp-mod-reject',
      ...attributes
    },
    label
  );
  node.addEventListener('click', onClick);
  return node;
}

/** `2026-11-29T10:00:05Z` → the user's local date and time. */
export function formatDate(iso: string | null): string {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  return isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** Milliseconds as `41 ms` or `2.3 s`. */
export function formatDuration(ms: number | null): string {
  if (ms === null) {
    return '';
  }
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A status code as a badge whose class says success or failure. */
export function statusBadge(
  status: number | null,
  state?: string
): HTMLElement {
  const text = status === null ? (state ?? '') : String(status);
  const kind =
    status === null
      ? 'pending'
      : status < 300
        ? 'ok'
        : status < 500
          ? 'client'
          : 'server';
  return h(
    'span',
    { class: `jp-scripting-status jp-scripting-status-${kind}` },
    text
  );
}

/**
 * The object URLs (`blob:`) made for what one view shows. Each holds its blob in memory
 * until it is revoked: the view revokes them all when what showed them is replaced, and
 * when it is disposed.
 */
export class ObjectUrls implements IDisposable {
  /** A new object URL for `blob`, revoked with the others. */
  create(blob: Blob): string {
    const url = URL.createObjectURL(blob);
    if (this._isDisposed) {
      // Nothing will show it any more: let it go at once.
      URL.revokeObjectURL(url);
    } else {
      this._urls.add(url);
    }
    return url;
  }

  /** Revoke every URL made so far: what showed them is gone or replaced. */
  revokeAll(): void {
    for (const url of this._urls) {
      URL.revokeObjectURL(url);
    }
    this._urls.clear();
  }

  /** How many URLs are not revoked yet. */
  get size(): number {
    return this._urls.size;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    this.revokeAll();
    this._isDisposed = true;
  }

  private _urls = new Set<string>();
  private _isDisposed = false;
}
