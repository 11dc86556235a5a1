/** Show an HTTP answer according to its content type. */
import { IAnswer, IProblem, answerText, statusLabel } from './api';
import { ObjectUrls, formatDuration, h } from './dom';

const IMAGE_TYPES = [
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/svg+xml',
  'image/webp'
];

function isJson(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json');
}

function isText(type: string): boolean {
  return (
    type.startsWith('text/') ||
    type === '' ||
    type === 'application/xml' ||
    type === 'application/javascript' ||
    type.endsWith('+xml')
  );
}

/**
 * The body: JSON pretty-printed, HTML in a sandboxed frame (no scripts, no same-origin
 * access), images as images, text as text, anything else as its size. An image's object
 * URL is made by `urls`: the view that shows the body revokes it.
 */
export function renderBody(answer: IAnswer, urls: ObjectUrls): HTMLElement {
  const type = answer.contentType;
  if (answer.body.byteLength === 0) {
    return h('div', { class: 'jp-scripting-empty' }, '(empty body)');
  }
  if (isJson(type)) {
    const text = answerText(answer);
    let pretty = text;
    try {
      pretty = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      // not valid JSON after all: show it as it came
    }
    return h(
      'pre',
      { class: 'jp-scripting-body jp-scripting-body-json' },
      pretty
    );
  }
  if (type === 'text/html') {
    const frame = h('iframe', {
      class: 'jp-scripting-body jp-scripting-body-html',
      sandbox: '',
      title: 'HTML answer (sandboxed)'
    });
    frame.srcdoc = answerText(answer);
    return frame;
  }
  if (IMAGE_TYPES.includes(type)) {
    const url = urls.create(new Blob([answer.body], { type }));
    const img = h('img', {
      class: 'jp-scripting-body jp-scripting-body-image',
      alt: type
    });
    img.src = url;
    return img;
  }
  if (isText(type)) {
    return h(
      'pre',
      { class: 'jp-scripting-body jp-scripting-body-text' },
      answerText(answer)
    );
  }
  return h(
    'div',
    { class: 'jp-scripting-body' },
    `${answer.body.byteLength} bytes of ${type || 'unknown type'}`
  );
}

/** Status line, server error message (if any), headers and body (see `renderBody`). */
export function renderAnswer(
  answer: IAnswer,
  urls: ObjectUrls,
  statusCode?: number | null
): HTMLElement {
  const status = statusCode ?? answer.status;
  const kind = status < 300 ? 'ok' : status < 500 ? 'client' : 'server';
  const headers = h('table', { class: 'jp-scripting-headers' });
  for (const [name, value] of answer.headers) {
    headers.append(h('tr', {}, h('th', {}, name), h('td', {}, value)));
  }
  return h(
    'div',
    { class: 'jp-scripting-answer' },
    h(
      'div',
      { class: `jp-scripting-answer-status jp-scripting-status-${kind}` },
      h(
        'span',
        { class: 'jp-scripting-answer-code' },
        `${status} ${statusLabel(status)}`.trim()
      ),
      h(
        'span',
        { class: 'jp-scripting-answer-time' },
        formatDuration(answer.durationMs)
      ),
      answer.executionId
        ? h(
            'span',
            { class: 'jp-scripting-answer-id' },
            `execution ${answer.executionId}`
          )
        : null
    ),
    answer.error
      ? h(
          'div',
          { class: 'jp-scripting-error', role: 'alert' },
          `${answer.error.message} (${answer.error.reason})`,
          answer.error.problems?.length
            ? renderProblems(answer.error.problems)
            : null
        )
      : null,
    h(
      'details',
      { class: 'jp-scripting-answer-headers' },
      h('summary', {}, 'Headers'),
      headers
    ),
    renderBody(answer, urls)
  );
}

/** A 422's problems as a list, `name: problem` each. */
export function renderProblems(problems: IProblem[]): HTMLElement {
  return h(
    'ul',
    { class: 'jp-scripting-problems' },
    ...problems.map(p => h('li', {}, h('code', {}, p.name), `: ${p.problem}`))
  );
}

/** The mime types of a display output, richest first (as JupyterLab ranks them). */
const MIME_ORDER = [
  'text/html',
  'image/svg+xml',
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'application/json',
  'text/markdown',
  'text/latex',
  'text/plain'
];

/** The mime types whose nbformat value is base64 (all the others are text or JSON). */
const BASE64_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

/**
 * One output of a running execution (`display_data`, `execute_result`): its richest
 * mime type, rendered by `renderBody` as if a script had answered it (HTML sandboxed,
 * images through `urls`, JSON pretty-printed, the rest as text).
 */
export function renderMimeBundle(
  data: { [mime: string]: unknown },
  urls: ObjectUrls
): HTMLElement {
  const type = MIME_ORDER.find(mime => mime in data) ?? Object.keys(data)[0];
  if (type === undefined) {
    return h('div', { class: 'jp-scripting-empty' }, '(empty output)');
  }
  const value = data[type];
  let body: ArrayBuffer;
  if (BASE64_TYPES.includes(type) && typeof value === 'string') {
    const binary = atob(value.replace(/\s/g, ''));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    body = bytes.buffer;
  } else {
    const text =
      typeof value === 'string'
        ? value
        : Array.isArray(value) && value.every(v => typeof v === 'string')
          ? value.join('')
          : JSON.stringify(value, null, 2);
    body = new TextEncoder().encode(text).buffer as ArrayBuffer;
  }
  const contentType =
    type.startsWith('text/') && type !== 'text/html' ? 'text/plain' : type;
  return renderBody(
    {
      status: 200,
      statusText: '',
      headers: [],
      contentType,
      body,
      durationMs: 0,
      executionId: null,
      error: null
    },
    urls
  );
}
