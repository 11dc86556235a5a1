/**
 * The event-stream parser: events split anywhere between chunks, multi-line data,
 * comments, every kind of line end; and the client's typed stream of an execution.
 */
import { ExecutionEvent } from '../api';
import { IServerSentEvent, parseEventStream, readEventStream } from '../sse';

import { BASE, clientWith, json, streamOf } from './fakes';
import models from './models.json';

/** Every event of `chunks`, fed one after the other as the client does. */
function parseChunks(chunks: string[]): IServerSentEvent[] {
  const events: IServerSentEvent[] = [];
  let pending = '';
  for (const chunk of chunks) {
    const parsed = parseEventStream(pending + chunk);
    events.push(...parsed.events);
    pending = parsed.rest;
  }
  return events;
}

const STREAM = [
  ': keep-alive',
  '',
  'id: 1',
  'event: state',
  'data: {"state": "running"}',
  '',
  'id: 2',
  'event: stream',
  'data: {"name": "stdout",',
  'data:  "text": "hi\\n"}',
  '',
  'id: 3',
  'event: status',
  'data: {"state": "finished", "statusCode": 200, "durationMs": 12.5}',
  '',
  // (a line after the last blank one: with CR line ends, the blank line is only
  // certain once the next character is not LF)
  ': bye'
];

const EXPECTED: IServerSentEvent[] = [
  { id: '1', event: 'state', data: '{"state": "running"}' },
  { id: '2', event: 'stream', data: '{"name": "stdout",\n "text": "hi\\n"}' },
  {
    id: '3',
    event: 'status',
    data: '{"state": "finished", "statusCode": 200, "durationMs": 12.5}'
  }
];

describe('parseEventStream', () => {
  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
    ['CR', '\r']
  ])('reads events whose lines end in %s', (_, end) => {
    expect(parseChunks([STREAM.join(end)])).toEqual(EXPECTED);
  });

  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
    ['CR', '\r']
  ])('gives the same events however the %s stream is split', (_, end) => {
    const text = STREAM.join(end);
    for (let size = 1; size <= 7; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += size) {
        chunks.push(text.slice(i, i + size));
      }
      expect(parseChunks(chunks)).toEqual(EXPECTED);
    }
    for (let cut = 0; cut <= text.length; cut++) {
      expect(parseChunks([text.slice(0, cut), text.slice(cut)])).toEqual(
        EXPECTED
      );
    }
  });

  it('keeps an event whose blank line has not come as the rest', () => {
    const parsed = parseEventStream('id: 1\nevent: state\ndata: {}\n');
    expect(parsed.events).toEqual([]);
    expect(parsed.rest).toBe('id: 1\nevent: state\ndata: {}\n');
  });

  it('skips comments and events without data; knows fields without a value', () => {
    const parsed = parseEventStream(
      ': a comment\n\nevent: nothing\n\nretry: 10\nunknown: x\ndata\ndata:x\n\n'
    );
    expect(parsed.events).toEqual([
      { id: null, event: 'message', data: '\nx' }
    ]);
    expect(parsed.rest).toBe('');
  });

  it('takes one space after the colon away, and only one', () => {
    expect(parseEventStream('data:  two\n\n').events[0].data).toBe(' two');
    expect(parseEventStream('data:none\n\n').events[0].data).toBe('none');
  });
});

describe('readEventStream', () => {
  it('decodes UTF-8 split inside a character and drops a leading BOM', async () => {
    const bytes = new TextEncoder().encode('\uFEFFdata: é€\n\n');
    const chunks = Array.from(bytes, b => new Uint8Array([b]));
    const events: IServerSentEvent[] = [];
    for await (const event of readEventStream(streamOf(chunks))) {
      events.push(event);
    }
    expect(events).toEqual([{ id: null, event: 'message', data: 'é€' }]);
  });
});

describe('ScriptingClient.executionEvents', () => {
  const SCRIPT_ID = models.script.scriptId;
  const EXECUTION_ID = models.execution.executionId;

  it('asks for the stream with the token and yields typed events', async () => {
    const { client, sent } = clientWith(
      () =>
        new Response(
          streamOf([
            STREAM.slice(0, 7).join('\n'),
            '\n' + STREAM.slice(7).join('\n'),
            'event: future-kind\ndata: {}\n\n'
          ]),
          { headers: { 'Content-Type': 'text/event-stream' } }
        )
    );
    const events: ExecutionEvent[] = [];
    for await (const event of client.executionEvents(SCRIPT_ID, EXECUTION_ID, {
      after: 0
    })) {
      events.push(event);
    }
    expect(sent[0].url).toBe(
      `${BASE}scripting/log/script/${SCRIPT_ID}/execution/${EXECUTION_ID}/events?after=0`
    );
    expect(sent[0].headers.get('Authorization')).toBe('token secret-token');
    expect(sent[0].headers.get('Accept')).toBe('text/event-stream');
    expect(events).toEqual([
      { id: 1, kind: 'state', state: 'running' },
      { id: 2, kind: 'stream', name: 'stdout', text: 'hi\n' },
      {
        id: 3,
        kind: 'status',
        state: 'finished',
        statusCode: 200,
        durationMs: 12.5
      }
    ]);
  });

  it('rejects with the server error of an unknown execution', async () => {
    const { client } = clientWith(() => json(models.error, 404));
    const events = client.executionEvents(SCRIPT_ID, 'nope');
    await expect(events.next()).rejects.toMatchObject({
      status: 404,
      reason: 'not-found'
    });
  });
});
