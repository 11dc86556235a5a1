/**
 * The API client against a fake `fetch` that answers the server's documented shapes
 * (models.json is checked against jupyter_scripting/models.py by
 * tests/test_labextension_models.py).
 */
import { ServerConnection } from '@jupyterlab/services';

import {
  IDelivery,
  IExecution,
  answerText,
  IScript,
  IScriptListItem,
  IVariable,
  IVariableList,
  ScriptingApiError,
  ScriptingClient,
  VARIABLE_NAME,
  describe as describeError,
  mediaType
} from '../api';

import { BASE, clientWith, json } from './fakes';
import models from './models.json';

const SCRIPT = models.script as IScript;
const SCRIPT_LIST_ITEM = models.scriptListItem as IScriptListItem;
const EXECUTION = models.execution as IExecution;
const DELIVERY = models.delivery as IDelivery;
const CONFIGURED = models.configuredScript as IScript;
const RETRIED = models.retriedExecution as IExecution;
const VARIABLE = models.variable as IVariable;
const VARIABLE_LIST = models.variableList as IVariableList;

describe('ScriptingClient', () => {
  it('lists scripts under the base URL with the token', async () => {
    const { client, sent } = clientWith(() =>
      json({
        scripts: [
          SCRIPT_LIST_ITEM,
          { ...SCRIPT_LIST_ITEM, lastExecution: null }
        ],
        moreElements: false
      })
    );
    const list = await client.listScripts();
    expect(list.scripts[0].name).toBe('hello');
    expect(list.scripts[0].lastExecution?.statusCode).toBe(200);
    expect(list.scripts[1].lastExecution).toBeNull();
    expect(list.moreElements).toBe(false);
    expect(sent[0].method).toBe('GET');
    expect(sent[0].url).toBe(`${BASE}scripting/script?limit=1000&offset=0`);
    expect(sent[0].headers.get('Authorization')).toBe('token secret-token');
  });

  it('creates a script with name and notebook, and versions it with PUT', async () => {
    const { client, sent } = clientWith(s =>
      json(
        { ...SCRIPT, version: s.method === 'POST' ? 1 : 2 },
        s.method === 'POST' ? 201 : 200
      )
    );
    const notebook = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: []
    };
    const created = await client.createScript('hello', notebook);
    expect(created.version).toBe(1);
    expect(JSON.parse(sent[0].body)).toEqual({ name: 'hello', notebook });
    const updated = await client.updateScript(SCRIPT.scriptId, notebook);
    expect(updated.version).toBe(2);
    expect(sent[1].method).toBe('PUT');
    expect(sent[1].url).toBe(`${BASE}scripting/script/${SCRIPT.scriptId}`);
    expect(JSON.parse(sent[1].body)).toEqual({ notebook });
  });

  it('renames with PATCH and deletes with DELETE (204)', async () => {
    const { client, sent } = clientWith(s =>
      s.method === 'DELETE'
        ? new Response(null, { status: 204 })
        : json({ ...SCRIPT, name: 'hi' })
    );
    expect((await client.renameScript(SCRIPT.scriptId, 'hi')).name).toBe('hi');
    expect(JSON.parse(sent[0].body)).toEqual({ name: 'hi' });
    await expect(client.deleteScript(SCRIPT.scriptId)).resolves.toBeUndefined();
    expect(sent[1].method).toBe('DELETE');
  });

  it('pages the log and filters by version', async () => {
    const { client, sent } = clientWith(() =>
      json({ filteredLogs: [EXECUTION], moreElements: true })
    );
    const page = await client.listExecutions(SCRIPT.scriptId, {
      limit: 10,
      offset: 20,
      version: 'all'
    });
    expect(page.filteredLogs[0].durationMs).toBeCloseTo(41.7);
    expect(page.moreElements).toBe(true);
    expect(sent[0].url).toBe(
      `${BASE}scripting/log/script/${SCRIPT.scriptId}?limit=10&offset=20&version=all`
    );
  });

  it("reads a run's webhook deliveries, with their attempts", async () => {
    const { client, sent } = clientWith(() =>
      json({ executionId: EXECUTION.executionId, deliveries: [DELIVERY] })
    );
    const list = await client.listDeliveries(
      SCRIPT.scriptId,
      EXECUTION.executionId
    );
    expect(sent[0].method).toBe('GET');
    expect(sent[0].url).toBe(
      `${BASE}scripting/log/script/${SCRIPT.scriptId}/execution/${EXECUTION.executionId}/deliveries`
    );
    expect(list.executionId).toBe(EXECUTION.executionId);
    expect(list.deliveries).toHaveLength(1);
    const [delivery] = list.deliveries;
    expect(delivery.url).toBe('https://hooks.example.com/scripting');
    expect(delivery.state).toBe('pending');
    expect(delivery.nextAttemptAt).toBe('2026-11-29T10:00:35Z');
    expect(delivery.attempts[0]).toEqual({
      attempt: 1,
      at: '2026-11-29T10:00:05Z',
      node: 'node-1',
      statusCode: 503,
      error: 'the receiver answered 503',
      durationMs: 12.5
    });
  });

  it("turns a 404 of a run's deliveries into a ScriptingApiError", async () => {
    const { client } = clientWith(() => json(models.error, 404));
    await expect(
      client.listDeliveries(SCRIPT.scriptId, EXECUTION.executionId)
    ).rejects.toMatchObject({ status: 404, reason: 'not-found' });
  });

  it.each([
    [
      401,
      'not-authenticated',
      "Authentication required: send an API key or the server's token."
    ],
    [404, 'not-found', models.error.message],
    [429, 'too-many-runs', 'Tenant default already runs 10 scripts.'],
    [500, 'store-error', 'The store failed.'],
    [503, 'shutting-down', 'The server is shutting down.']
  ])(
    'turns a %i into a ScriptingApiError with the server message',
    async (status, reason, message) => {
      const { client } = clientWith(() =>
        json({ message, reason, executionId: null }, status)
      );
      const error = await client
        .getScript(SCRIPT.scriptId)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ScriptingApiError);
      const apiError = error as ScriptingApiError;
      expect(apiError.status).toBe(status);
      expect(apiError.reason).toBe(reason);
      expect(apiError.message).toBe(message);
      expect(apiError.description).toContain(`${status} `);
      expect(apiError.description).toContain(message);
    }
  );

  it('keeps the text of an error that is not JSON', async () => {
    const { client } = clientWith(
      () => new Response('Bad Gateway from a proxy', { status: 502 })
    );
    const error = (await client
      .listScripts()
      .catch((e: unknown) => e)) as ScriptingApiError;
    expect(error.status).toBe(502);
    expect(error.message).toBe('Bad Gateway from a proxy');
  });

  it('reports an unreachable server as status 0', async () => {
    const settings = ServerConnection.makeSettings({
      baseUrl: BASE,
      fetch: () => Promise.reject(new TypeError('Failed to fetch')),
      Request,
      Headers
    });
    const error = (await new ScriptingClient(settings)
      .listScripts()
      .catch((e: unknown) => e)) as ScriptingApiError;
    expect(error.status).toBe(0);
    expect(error.description).toContain('could not be reached');
  });

  it('runs a script: method, content type, headers and body; reads the whole answer', async () => {
    const { client, sent } = clientWith(
      () =>
        new Response('Hello John Smith!', {
          status: 200,
          headers: {
            'Content-Type': 'text/plain; charset=utf-8',
            'X-Execution-Id': EXECUTION.executionId
          }
        })
    );
    const answer = await client.run(SCRIPT.scriptId, {
      method: 'POST',
      contentType: 'application/json',
      headers: [['X-Trace', 'abc']],
      body: '{"name": "John Smith"}'
    });
    expect(sent[0].url).toBe(`${BASE}scripting/script/${SCRIPT.scriptId}/run`);
    expect(sent[0].headers.get('Content-Type')).toBe('application/json');
    expect(sent[0].headers.get('X-Trace')).toBe('abc');
    expect(sent[0].body).toBe('{"name": "John Smith"}');
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe('text/plain');
    expect(answer.executionId).toBe(EXECUTION.executionId);
    expect(answer.error).toBeNull();
    expect(answerText(answer)).toBe('Hello John Smith!');
    expect(answer.durationMs).toBeGreaterThanOrEqual(0);
    expect(answer.headers).toContainEqual([
      'x-execution-id',
      EXECUTION.executionId
    ]);
  });

  it('resolves with a server error answer of a run, its message parsed', async () => {
    const { client } = clientWith(() =>
      json(
        {
          message: 'Tenant default runs 10 scripts already.',
          reason: 'too-many-runs',
          executionId: null
        },
        429,
        { 'Retry-After': '1' }
      )
    );
    const answer = await client.run(SCRIPT.scriptId, {
      method: 'GET',
      body: 'ignored'
    });
    expect(answer.status).toBe(429);
    expect(answer.error?.reason).toBe('too-many-runs');
  });

  it('sends no body with GET', async () => {
    const { client, sent } = clientWith(
      () => new Response(null, { status: 204 })
    );
    const answer = await client.run(SCRIPT.scriptId, {
      method: 'GET',
      body: 'x',
      contentType: 'text/plain'
    });
    expect(sent[0].body).toBe('');
    expect(answer.status).toBe(204);
  });

  it('queues a background run and follows its log until it is done', async () => {
    let polls = 0;
    const { client } = clientWith(s => {
      if (s.url.endsWith('/background')) {
        return json({ executionId: EXECUTION.executionId }, 202);
      }
      polls += 1;
      return polls < 2
        ? json({ executionId: EXECUTION.executionId, state: 'running' }, 202)
        : new Response('Hello Ada!', {
            headers: {
              'Content-Type': 'text/plain',
              'X-Execution-Status': '200'
            }
          });
    });
    const id = await client.runInBackground(SCRIPT.scriptId, {
      method: 'POST',
      body: '{}'
    });
    expect(id).toBe(EXECUTION.executionId);
    const first = await client.getExecutionContent(SCRIPT.scriptId, id);
    expect(first).toEqual({ done: false, executionId: id, state: 'running' });
    const second = await client.getExecutionContent(SCRIPT.scriptId, id);
    expect(second.done).toBe(true);
    if (second.done) {
      expect(second.statusCode).toBe(200);
      expect(answerText(second.answer)).toBe('Hello Ada!');
    }
  });

  it("reads a script's schema, and the problems of a 422", async () => {
    const problems = [
      { name: 'count', problem: 'must be an integer, not a string' }
    ];
    const { client, sent } = clientWith(s =>
      s.url.endsWith('/schema')
        ? json({ type: 'object', title: 'hello (version 2)', properties: {} })
        : json(
            {
              message: "The script's parameters were not given right.",
              reason: 'invalid-parameters',
              executionId: null,
              problems: [...problems, { name: 3 }]
            },
            422
          )
    );
    expect((await client.schema(SCRIPT.scriptId)).title).toBe(
      'hello (version 2)'
    );
    expect(sent[0].url).toBe(
      `${BASE}scripting/script/${SCRIPT.scriptId}/schema`
    );
    const answer = await client.run(SCRIPT.scriptId, { method: 'POST' });
    expect(answer.error?.problems).toEqual(problems);
    await expect(
      client.runInBackground(SCRIPT.scriptId, { method: 'POST' })
    ).rejects.toMatchObject({ status: 422, problems });
  });
});

describe('ScriptingClient: variables and retries', () => {
  it("lists the tenant's variables, without values", async () => {
    const { client, sent } = clientWith(() => json(VARIABLE_LIST));
    const list = await client.listVariables();
    expect(sent[0].method).toBe('GET');
    expect(sent[0].url).toBe(`${BASE}scripting/variables`);
    expect(list.variables.map(v => [v.name, v.secret])).toEqual([
      ['DB_PASSWORD', true],
      ['REGION', false]
    ]);
    expect(list.variables.some(v => 'value' in v)).toBe(false);
  });

  it("reads a plain variable's value by name", async () => {
    const { client, sent } = clientWith(() => json(VARIABLE));
    const read = await client.getVariable('REGION');
    expect(sent[0].url).toBe(`${BASE}scripting/variables/REGION`);
    expect(read).toEqual(VARIABLE);
    expect(read.value).toBe('eu-1');
  });

  it('sets a variable with PUT {value, secret}, and deletes it (204)', async () => {
    const listed = VARIABLE_LIST.variables[0];
    const { client, sent } = clientWith(s =>
      s.method === 'DELETE'
        ? new Response(null, { status: 204 })
        : json(listed, 201)
    );
    const put = await client.putVariable('DB_PASSWORD', {
      value: 's3cr3t-value',
      secret: true
    });
    expect(put).toEqual(listed);
    expect(sent[0].method).toBe('PUT');
    expect(sent[0].url).toBe(`${BASE}scripting/variables/DB_PASSWORD`);
    expect(JSON.parse(sent[0].body)).toEqual({
      value: 's3cr3t-value',
      secret: true
    });
    await expect(client.deleteVariable('DB_PASSWORD')).resolves.toBeUndefined();
    expect(sent[1].method).toBe('DELETE');
    expect(sent[1].url).toBe(`${BASE}scripting/variables/DB_PASSWORD`);
  });

  it("turns a runner key's 403 into a ScriptingApiError", async () => {
    const { client } = clientWith(() =>
      json(
        { message: 'Forbidden', reason: 'forbidden', executionId: null },
        403
      )
    );
    const error = await client.listVariables().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScriptingApiError);
    expect((error as ScriptingApiError).status).toBe(403);
    expect((error as ScriptingApiError).reason).toBe('forbidden');
  });

  it("sets a script's variables with PATCH, null for none", async () => {
    const { client, sent } = clientWith(s =>
      json(JSON.parse(s.body).variables ? CONFIGURED : SCRIPT)
    );
    const set = await client.setScriptVariables(SCRIPT.scriptId, [
      'API_KEY',
      'REGION'
    ]);
    expect(sent[0].method).toBe('PATCH');
    expect(sent[0].url).toBe(`${BASE}scripting/script/${SCRIPT.scriptId}`);
    expect(JSON.parse(sent[0].body)).toEqual({
      variables: ['API_KEY', 'REGION']
    });
    expect(set.variables).toEqual(['API_KEY', 'REGION']);
    expect(set.retries).toEqual({ max: 3, on: [500, 502, 504], backoff: 30 });
    const cleared = await client.setScriptVariables(SCRIPT.scriptId, null);
    expect(JSON.parse(sent[1].body)).toEqual({ variables: null });
    expect(cleared.variables).toEqual([]);
  });

  it("reads a retried run's attempt and its links", async () => {
    const { client } = clientWith(() =>
      json({ filteredLogs: [RETRIED, EXECUTION], moreElements: false })
    );
    const [retry, first] = (await client.listExecutions(SCRIPT.scriptId))
      .filteredLogs;
    expect([retry.attempt, retry.retryOf]).toEqual([2, EXECUTION.executionId]);
    expect(retry.retriedBy).not.toBeNull();
    expect([first.attempt, first.retryOf, first.retriedBy]).toEqual([
      1,
      null,
      null
    ]);
  });
});

describe('VARIABLE_NAME', () => {
  it("takes an environment variable's name, and nothing else", () => {
    for (const name of ['A', '_x', 'API_KEY_2', 'a'.repeat(128)]) {
      expect(VARIABLE_NAME.test(name)).toBe(true);
    }
    for (const name of ['', '2A', 'A-B', 'A B', 'Ä', 'a'.repeat(129)]) {
      expect(VARIABLE_NAME.test(name)).toBe(false);
    }
  });
});

describe('mediaType', () => {
  it('drops parameters and case', () => {
    expect(mediaType('Text/HTML; charset=utf-8')).toBe('text/html');
    expect(mediaType(null)).toBe('');
  });
});

describe('describe (an error for the UI)', () => {
  it("names the status and the server's message, or the error's own", () => {
    const notFound = new ScriptingApiError(
      404,
      models.error.message,
      'not-found'
    );
    expect(describeError(notFound, 'Could not read the script')).toBe(
      `Could not read the script: 404 Not Found: ${models.error.message}`
    );
    expect(describeError(new Error('boom'), 'Publish')).toBe('Publish: boom');
    expect(describeError('plain', 'Publish')).toBe('Publish: plain');
  });
});
