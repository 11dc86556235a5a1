/**
 * Server-Sent Events, read by hand: `EventSource` cannot send the Jupyter token, so the
 * client reads the `text/event-stream` body of a `fetch` and parses it here (the format
 * of the HTML standard, "Server-sent events": fields `data`, `event`, `id`, `retry`;
 * lines ended by CRLF, LF or CR; `:` comments; an event ends at a blank line).
 */

/** One event as it came: `data` lines joined by `\n`. */
export interface IServerSentEvent {
  /** The `id` field, or null when the event had none. */
  id: string | null;
  /** The `event` field; `message` when the event had none. */
  event: string;
  data: string;
}

/** What `parseEventStream` read: the complete events, and the text still incomplete. */
export interface IParsedEventStream {
  events: IServerSentEvent[];
  /** The start of an event whose blank line has not come yet: prepend it to the next chunk. */
  rest: string;
}

const LINE_END = /\r\n|\r|\n/g;

/**
 * The complete events of `text` (what came so far, after the previous call's `rest`).
 * An event is complete at its blank line; a lone CR at the very end could be the first
 * half of a CRLF, so the line it ends waits for the next chunk too. An event with no
 * `data` field is not dispatched (as the standard says), nor is a comment.
 */
export function parseEventStream(text: string): IParsedEventStream {
  const events: IServerSentEvent[] = [];
  let eventStart = 0;
  let lineStart = 0;
  let id: string | null = null;
  let event = '';
  let data: string[] = [];
  LINE_END.lastIndex = 0;
  for (let match = LINE_END.exec(text); match; match = LINE_END.exec(text)) {
    if (match[0] === '\r' && match.index === text.length - 1) {
      break; // maybe CRLF split between two chunks
    }
    const line = text.slice(lineStart, match.index);
    lineStart = match.index + match[0].length;
    if (line === '') {
      if (data.length) {
        events.push({ id, event: event || 'message', data: data.join('\n') });
      }
      id = null;
      event = '';
      data = [];
      eventStart = lineStart;
      continue;
    }
    if (line.startsWith(':')) {
      continue; // a comment (`: keep-alive`)
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) {
      value = value.slice(1);
    }
    if (field === 'data') {
      data.push(value);
    } else if (field === 'event') {
      event = value;
    } else if (field === 'id' && !value.includes('\0')) {
      id = value;
    }
    // `retry` and unknown fields: nothing to do (the client reconnects its own way)
  }
  return { events, rest: text.slice(eventStart) };
}

/**
 * The events of a byte stream as they come (a UTF-8 `text/event-stream` body). Ends
 * when the stream does; what was left incomplete then is dropped, as the standard says.
 */
export async function* readEventStream(
  body: ReadableStream<Uint8Array>
): AsyncGenerator<IServerSentEvent, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  let first = true;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        return;
      }
      pending += decoder.decode(value, { stream: true });
      if (first && pending.length) {
        pending = pending.replace(/^\uFEFF/, '');
        first = false;
      }
      const { events, rest } = parseEventStream(pending);
      pending = rest;
      yield* events;
    }
  } finally {
    // A consumer that stops early (or an abort) must not leave the connection open.
    await reader.cancel().catch(() => undefined);
  }
}
