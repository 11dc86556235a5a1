/**
 * The Variables view against a fake server (README, "Variables and secrets"): it lists
 * the tenant's variables with the values of the plain ones only, sets one (a secret's
 * value typed into a password field and gone from the page once sent), deletes one
 * after asking, and says what a 403 means.
 */
import { Widget } from '@lumino/widgets';

import {
  IVariable,
  IVariableList,
  ScriptingApiError,
  ScriptingClient
} from '../api';
import {
  ConfirmDelete,
  VariablesWidget,
  describeVariables,
  nameProblem
} from '../variables';

import { ISent, clientWith, json } from './fakes';
import models from './models.json';

const VARIABLE = models.variable as IVariable;
const LIST = models.variableList as IVariableList;
const SECRET_VALUE = 's3cr3t-value';

/** Let the requests begun without being awaited (and their rendering) settle. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

/** The path of a request below `/scripting/`. */
function route(sent: ISent): string {
  return new URL(sent.url).pathname.replace(/^.*\/scripting\//, '');
}

/** A fake tenant: its variables, changed by PUT and DELETE as the server would. */
function tenant(initial: IVariable[] = LIST.variables) {
  const variables = new Map(initial.map(v => [v.name, { ...v }]));
  const values = new Map<string, string>([['REGION', 'eu-1']]);
  return clientWith(sent => {
    const path = route(sent);
    if (path === 'variables') {
      return json({
        variables: [...variables.values()].sort((a, b) =>
          a.name.localeCompare(b.name)
        )
      });
    }
    const name = decodeURIComponent(path.replace(/^variables\//, ''));
    const found = variables.get(name);
    if (sent.method === 'PUT') {
      const body = JSON.parse(sent.body) as { value: string; secret: boolean };
      const model = {
        ...(found ?? VARIABLE),
        name,
        secret: body.secret
      } as IVariable;
      delete model.value;
      variables.set(name, model);
      values.set(name, body.value);
      return json(model, found ? 200 : 201);
    }
    if (!found) {
      return json(
        { message: `No variable ${name}.`, reason: 'not-found' },
        404
      );
    }
    if (sent.method === 'DELETE') {
      variables.delete(name);
      return new Response(null, { status: 204 });
    }
    return json(
      found.secret ? found : { ...found, value: values.get(name) ?? '' }
    );
  });
}

/** The view, attached to the page (a detached checkbox sends no change event). */
function view(
  client: ScriptingClient,
  confirm?: ConfirmDelete
): VariablesWidget {
  const widget = new VariablesWidget(client, confirm);
  Widget.attach(widget, document.body);
  return widget;
}

function rows(widget: VariablesWidget): HTMLElement[] {
  return Array.from(
    widget.node.querySelectorAll<HTMLElement>('.jp-scripting-variable-row')
  );
}

function cell(row: HTMLElement, name: string): string {
  return row.querySelector(`.jp-scripting-variable-${name}`)?.textContent ?? '';
}

function input(widget: VariablesWidget, name: string): HTMLInputElement {
  const found = widget.node.querySelector<HTMLInputElement>(
    `.jp-scripting-variable-${name}-input`
  );
  if (!found) {
    throw new Error(`no ${name} input`);
  }
  return found;
}

function fill(
  widget: VariablesWidget,
  name: string,
  value: string,
  secret: boolean
): void {
  input(widget, 'name').value = name;
  const box = input(widget, 'secret');
  if (box.checked !== secret) {
    box.click(); // as a user does: its change switches the value's field
  }
  input(widget, 'value').value = value;
}

function formMessage(widget: VariablesWidget): HTMLElement | null {
  return widget.node.querySelector('.jp-scripting-variable-form-message');
}

describe('VariablesWidget', () => {
  it('lists names, kinds and dates; reads the values of plain ones only', async () => {
    const { client, sent } = tenant();
    const widget = view(client);
    await widget.ready;
    expect(widget.id).toBe('jp-scripting-variables');
    expect(widget.title.label).toBe('Variables');
    const [secret, plain] = rows(widget);
    expect(secret.dataset.name).toBe('DB_PASSWORD');
    expect(cell(secret, 'kind')).toBe('secret');
    expect(cell(secret, 'value')).toBe('(hidden)');
    expect(plain.dataset.name).toBe('REGION');
    expect(cell(plain, 'kind')).toBe('plain');
    expect(cell(plain, 'value')).toBe('eu-1');
    expect(cell(plain, 'updated')).not.toBe('');
    // One list, one read: never a secret's.
    expect(sent.map(s => `${s.method} ${route(s)}`)).toEqual([
      'GET variables',
      'GET variables/REGION'
    ]);
    widget.dispose();
  });

  it('says so when there are none', async () => {
    const { client } = tenant([]);
    const widget = view(client);
    await widget.ready;
    expect(rows(widget)).toHaveLength(0);
    expect(
      widget.node.querySelector('.jp-scripting-empty')?.textContent
    ).toContain('No variables yet');
    widget.dispose();
  });

  it('types a secret into a password field, a plain value into a text field', async () => {
    const { client } = tenant();
    const widget = view(client);
    await widget.ready;
    expect(input(widget, 'secret').checked).toBe(true);
    expect(input(widget, 'value').type).toBe('password');
    input(widget, 'secret').click();
    expect(input(widget, 'value').type).toBe('text');
    input(widget, 'secret').click();
    expect(input(widget, 'value').type).toBe('password');
    widget.dispose();
  });

  it('sets a secret, and keeps no copy of its value in the page', async () => {
    const { client, sent } = tenant();
    const widget = view(client);
    await widget.ready;
    fill(widget, 'API_KEY', SECRET_VALUE, true);
    await widget.submit();
    const put = sent.find(s => s.method === 'PUT');
    expect(put && route(put)).toBe('variables/API_KEY');
    expect(JSON.parse(put?.body ?? '{}')).toEqual({
      value: SECRET_VALUE,
      secret: true
    });
    expect(formMessage(widget)?.textContent).toBe(
      'Created the secret API_KEY.'
    );
    expect(input(widget, 'value').value).toBe('');
    expect(rows(widget).map(r => r.dataset.name)).toEqual([
      'API_KEY',
      'DB_PASSWORD',
      'REGION'
    ]);
    expect(cell(rows(widget)[0], 'value')).toBe('(hidden)');
    expect(widget.node.outerHTML).not.toContain(SECRET_VALUE);
    // The secret's value is never asked for.
    expect(sent.filter(s => route(s) === 'variables/API_KEY')).toHaveLength(1);
    widget.dispose();
  });

  it('sets a plain variable and shows its value', async () => {
    const { client, sent } = tenant();
    const widget = view(client);
    await widget.ready;
    fill(widget, 'REGION', 'us-2', false);
    await widget.submit();
    const put = sent.find(s => s.method === 'PUT');
    expect(JSON.parse(put?.body ?? '{}')).toEqual({
      value: 'us-2',
      secret: false
    });
    expect(formMessage(widget)?.textContent).toBe(
      'Replaced the variable REGION.'
    );
    const region = rows(widget).find(r => r.dataset.name === 'REGION');
    expect(region && cell(region, 'value')).toBe('us-2');
    widget.dispose();
  });

  it('refuses a bad name or a short secret without asking the server', async () => {
    const { client, sent } = tenant();
    const widget = view(client);
    await widget.ready;
    const before = sent.length;
    fill(widget, '2FA-KEY', 'abcdef', true);
    await widget.submit();
    expect(formMessage(widget)?.textContent).toContain(
      '"2FA-KEY" is not a variable name'
    );
    expect(formMessage(widget)?.classList).toContain('jp-scripting-error');
    fill(widget, 'PIN', 'abc', true);
    await widget.submit();
    expect(formMessage(widget)?.textContent).toContain(
      'A secret needs at least 4 characters'
    );
    expect(sent.length).toBe(before);
    // A short plain value is fine.
    fill(widget, 'PIN', 'abc', false);
    await widget.submit();
    expect(sent.some(s => s.method === 'PUT')).toBe(true);
    widget.dispose();
  });

  it("shows the server's 400 by the form", async () => {
    const { client } = clientWith(sent =>
      sent.method === 'PUT'
        ? json(
            {
              message: 'A value cannot hold NUL characters.',
              reason: 'bad-request'
            },
            400
          )
        : json({ variables: [] })
    );
    const widget = view(client);
    await widget.ready;
    fill(widget, 'X', 'a\u0000b', false);
    await widget.submit();
    expect(formMessage(widget)?.textContent).toBe(
      'Could not set X: 400 Bad Request: A value cannot hold NUL characters.'
    );
    widget.dispose();
  });

  it('deletes a variable once confirmed, not when cancelled', async () => {
    const asked: string[] = [];
    let answer = false;
    const { client, sent } = tenant();
    const widget = view(client, async variable => {
      asked.push(variable.name);
      return answer;
    });
    await widget.ready;
    const deleteOf = (name: string) =>
      rows(widget)
        .find(r => r.dataset.name === name)
        ?.querySelector<HTMLButtonElement>('.jp-scripting-delete');

    await widget.delete(LIST.variables[0]);
    expect(asked).toEqual(['DB_PASSWORD']);
    expect(sent.some(s => s.method === 'DELETE')).toBe(false);

    answer = true;
    deleteOf('DB_PASSWORD')?.click();
    await settle();
    const deleted = sent.filter(s => s.method === 'DELETE');
    expect(deleted.map(route)).toEqual(['variables/DB_PASSWORD']);
    expect(rows(widget).map(r => r.dataset.name)).toEqual(['REGION']);
    expect(
      widget.node.querySelector('.jp-scripting-variables-message')?.textContent
    ).toBe('Deleted DB_PASSWORD.');
    widget.dispose();
  });

  it('says that a runner key cannot manage variables (403)', async () => {
    const { client } = clientWith(() =>
      json(
        {
          message: 'The runner role cannot write scripts.',
          reason: 'forbidden'
        },
        403
      )
    );
    const widget = view(client);
    await widget.ready;
    const message = widget.node.querySelector(
      '.jp-scripting-variables-message'
    );
    expect(message?.classList).toContain('jp-scripting-error');
    expect(message?.textContent).toBe(
      'Could not list the variables: 403 Forbidden: this API key cannot manage ' +
        'variables (admin and developer keys can, runner keys cannot).'
    );
    widget.dispose();
  });

  it('fills the form to edit: a plain value, never a secret', async () => {
    const { client } = tenant();
    const widget = view(client);
    await widget.ready;
    const edit = (name: string) =>
      rows(widget)
        .find(r => r.dataset.name === name)
        ?.querySelector<HTMLButtonElement>(
          '.jp-scripting-variable-actions button'
        )
        ?.click();
    edit('REGION');
    expect(input(widget, 'name').value).toBe('REGION');
    expect(input(widget, 'secret').checked).toBe(false);
    expect(input(widget, 'value').value).toBe('eu-1');
    edit('DB_PASSWORD');
    expect(input(widget, 'secret').checked).toBe(true);
    expect(input(widget, 'value').type).toBe('password');
    expect(input(widget, 'value').value).toBe('');
    widget.dispose();
  });
});

describe('nameProblem and describeVariables', () => {
  it('takes environment names only', () => {
    expect(nameProblem('API_KEY')).toBeNull();
    expect(nameProblem('')).toBe('Give the variable a name.');
    expect(nameProblem('a b')).toContain('not a variable name');
  });

  it('describes other errors as usual', () => {
    expect(
      describeVariables(new ScriptingApiError(404, 'No variable X.'), 'Oops')
    ).toBe('Oops: 404 Not Found: No variable X.');
  });
});
