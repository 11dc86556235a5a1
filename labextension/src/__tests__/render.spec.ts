/**
 * How answers are shown (README, "In JupyterLab": the run dialog) and how the run dialog
 * reads headers.
 */
import { IAnswer } from '../api';
import { ObjectUrls } from '../dom';
import { renderAnswer, renderBody } from '../render';
import { parseHeaders } from '../run';

import { IObjectUrlLog, installObjectUrls } from './fakes';

let objectUrls: IObjectUrlLog;
let urls: ObjectUrls;

beforeEach(() => {
  objectUrls = installObjectUrls();
  urls = new ObjectUrls();
});

afterEach(() => {
  urls.dispose();
  objectUrls.uninstall();
});

function answer(
  contentType: string,
  body: string | Uint8Array,
  status = 200
): IAnswer {
  const bytes =
    typeof body === 'string' ? new TextEncoder().encode(body) : body;
  return {
    status,
    statusText: '',
    headers: [['content-type', contentType]],
    contentType: contentType.split(';')[0],
    body: bytes.buffer.slice(
      bytes.byteOffset,
      bytes.byteOffset + bytes.byteLength
    ) as ArrayBuffer,
    durationMs: 12,
    executionId: '9b1e6d3c-2f4a-4b8e-8c1d-7a6e5f4d3c2b',
    error: null
  };
}

describe('renderBody', () => {
  it('pretty-prints JSON', () => {
    const node = renderBody(answer('application/json', '{"a":[1,2]}'), urls);
    expect(node.tagName).toBe('PRE');
    expect(node.textContent).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}');
  });

  it('puts HTML in a sandboxed frame that may run no script', () => {
    const node = renderBody(
      answer('text/html', '<b>hi</b><script>alert(1)</script>'),
      urls
    );
    expect(node.tagName).toBe('IFRAME');
    expect(node.getAttribute('sandbox')).toBe('');
    expect((node as HTMLIFrameElement).srcdoc).toContain('<b>hi</b>');
  });

  it('shows images as images, through an object URL of the view', () => {
    const node = renderBody(
      answer('image/png', new Uint8Array([137, 80, 78, 71])),
      urls
    );
    expect(node.tagName).toBe('IMG');
    expect((node as HTMLImageElement).src).toBe('blob:fake-1');
    expect(objectUrls.blobs[0].type).toBe('image/png');
    expect(urls.size).toBe(1);
    expect(objectUrls.revoked).toEqual([]);
  });

  it('shows text as text, in its charset', () => {
    const node = renderBody(
      answer('text/plain; charset=utf-8', 'Hello John Smith!'),
      urls
    );
    expect(node.tagName).toBe('PRE');
    expect(node.textContent).toBe('Hello John Smith!');
  });

  it('says what an empty or binary body is', () => {
    expect(renderBody(answer('text/plain', ''), urls).textContent).toBe(
      '(empty body)'
    );
    expect(
      renderBody(answer('application/octet-stream', new Uint8Array(3)), urls)
        .textContent
    ).toBe('3 bytes of application/octet-stream');
  });
});

describe('renderAnswer', () => {
  it('shows status, time, execution id and the server error message', () => {
    const failed = answer(
      'application/json',
      '{"message": "No script with id \'x\'.", "reason": "not-found", "executionId": null}',
      404
    );
    failed.error = {
      message: "No script with id 'x'.",
      reason: 'not-found',
      executionId: null
    };
    const node = renderAnswer(failed, urls);
    expect(node.querySelector('.jp-scripting-answer-code')?.textContent).toBe(
      '404 Not Found'
    );
    expect(node.querySelector('.jp-scripting-answer-time')?.textContent).toBe(
      '12 ms'
    );
    expect(node.querySelector('.jp-scripting-error')?.textContent).toBe(
      "No script with id 'x'. (not-found)"
    );
    expect(node.querySelector('.jp-scripting-headers')?.textContent).toContain(
      'content-type'
    );
  });
});

describe('ObjectUrls', () => {
  it('revokes every URL it made, once, when told and when disposed', () => {
    const first = urls.create(new Blob(['a']));
    const second = urls.create(new Blob(['b']));
    urls.revokeAll();
    expect(objectUrls.revoked).toEqual([first, second]);
    const third = urls.create(new Blob(['c']));
    urls.dispose();
    urls.dispose();
    expect(objectUrls.revoked).toEqual([first, second, third]);
    expect(urls.isDisposed).toBe(true);
  });

  it('revokes at once a URL made after it was disposed', () => {
    urls.dispose();
    const late = urls.create(new Blob(['late']));
    expect(objectUrls.live()).toEqual([]);
    expect(objectUrls.revoked).toEqual([late]);
  });
});

describe('parseHeaders', () => {
  it('reads Name: value lines, skipping blank ones', () => {
    expect(parseHeaders('X-A: 1\n\n  X-B:two words \n')).toEqual([
      ['X-A', '1'],
      ['X-B', 'two words']
    ]);
  });

  it('refuses a line that is not a header', () => {
    expect(() => parseHeaders('not a header')).toThrow('Not a header line');
  });
});
