/**
 * What the jest tests fake, and only that: the server behind `fetch` (answering the
 * documented shapes of models.json), and what jsdom lacks: the browser's object URLs and
 * streams (a response body read as it comes).
 */
import { ServerConnection } from '@jupyterlab/services';

import { ScriptingClient } from '../api';

export const BASE = 'http://localhost:8888/lab-base/';

/** A request as the fake server saw it. */
export interface ISent {
  method: string;
  url: string;
  headers: Headers;
  body: string;
}

/** A client whose fetch records each request and answers with `answer(request)`. */
export function clientWith(
  answer: (sent: ISent) => Response | Promise<Response>
): {
  client: ScriptingClient;
  sent: ISent[];
} {
  const sent: ISent[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const record = {
      method: request.method,
      url: request.url,
      headers: request.headers,
      body: await request.text()
    };
    sent.push(record);
    return answer(record);
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: BASE,
    token: 'secret-token',
    fetch,
    Request,
    Headers
  });
  return { client: new ScriptingClient(settings), sent };
}

export function json(
  body: unknown,
  status = 200,
  headers: { [name: string]: string } = {}
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers }
  });
}

/** The object URLs made and revoked while installed (`blob:fake-1`, `blob:fake-2`…). */
export interface IObjectUrlLog {
  created: string[];
  blobs: Blob[];
  revoked: string[];
  /** The URLs made and not revoked. */
  live(): string[];
  uninstall(): void;
}

/** Put a recording `URL.createObjectURL` / `URL.revokeObjectURL` in place. */
export function installObjectUrls(): IObjectUrlLog {
  const original = {
    create: Object.getOwnPropertyDescriptor(URL, 'createObjectURL'),
    revoke: Object.getOwnPropertyDescriptor(URL, 'revokeObjectURL')
  };
  const log: IObjectUrlLog = {
    created: [],
    blobs: [],
    revoked: [],
    live: () => log.created.filter(url => !log.revoked.includes(url)),
    uninstall: () => {
      for (const [name, descriptor] of [
        ['createObjectURL', original.create],
        ['revokeObjectURL', original.revoke]
      ] as const) {
        if (descriptor) {
          Object.defineProperty(URL, name, descriptor);
        } else {
          delete (URL as unknown as { [name: string]: unknown })[name];
        }
      }
    }
  };
  Object.defineProperty(URL, 'createObjectURL', {
    configurable: true,
    writable: true,
    value: (blob: Blob) => {
      const url = `blob:fake-${log.created.length + 1}`;
      log.created.push(url);
      log.blobs.push(blob);
      return url;
    }
  });
  Object.defineProperty(URL, 'revokeObjectURL', {
    configurable: true,
    writable: true,
    value: (url: string) => {
      log.revoked.push(url);
    }
  });
  return log;
}

/** A promise and the functions that settle it. */
export function deferred<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
} {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>(r => {
    resolve = r;
  });
  return { promise, resolve };
}

// jsdom has no ReadableStream: that of the tests' fetch (Node's) stands in for it.
const Streams = new Response('').body?.constructor as typeof ReadableStream;

/** A response body that yields `chunks` (strings as UTF-8) one read at a time. */
export function streamOf(
  chunks: (string | Uint8Array)[]
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const stream = new Streams<Uint8Array>({
    pull(controller) {
      const chunk = chunks.shift();
      if (chunk === undefined) {
        controller.close();
      } else {
        controller.enqueue(
          typeof chunk === 'string' ? encoder.encode(chunk) : chunk
        );
      }
    }
  });
  return stream;
}
