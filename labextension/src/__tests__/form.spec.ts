/**
 * The run dialog's parameters form: built from a script's schema, it sends the fields
 * changed as a JSON body (the others are left to the notebook's defaults), and shows
 * the problems of a 422 by their fields.
 */
import { IRunSchema, IScript } from '../api';
import { FormProblems, ParametersForm, fieldKind } from '../form';
import { IScriptActions, RunWidget } from '../run';

import { ISent, clientWith, json } from './fakes';
import models from './models.json';

const SCRIPT = models.script as IScript;

/** What the server answers for a `parameters` cell of four assignments. */
const SCHEMA: IRunSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'hello (version 2)',
  type: 'object',
  properties: {
    name: { type: 'string', default: 'World', 'x-python': 'name = "World"' },
    count: {
      type: 'integer',
      default: 3,
      description: 'how many',
      'x-python': 'count: int = 3'
    },
    loud: { type: 'boolean', default: false, 'x-python': 'loud = False' },
    tags: {
      type: ['array', 'null'],
      default: null,
      'x-python': 'tags: list | None = None'
    }
  },
  additionalProperties: false,
  'x-parameters': 'strict',
  'x-script': { scriptId: SCRIPT.scriptId, version: 2 }
};

const NO_PARAMETERS: IRunSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'hello (version 2)',
  type: 'object',
  description: "This script takes no parameters; the body is the script's."
};

const INVALID = {
  message:
    "The script's parameters were not given right: count: must be an integer, not a string; colour: unknown parameter (this script takes: count, loud, name, tags).",
  reason: 'invalid-parameters',
  executionId: null,
  problems: [
    { name: 'count', problem: 'must be an integer, not a string' },
    {
      name: 'colour',
      problem: 'unknown parameter (this script takes: count, loud, name, tags)'
    }
  ]
};

const actions: IScriptActions = {
  openExecutedNotebook: () => undefined,
  openLogs: () => undefined
};

function route(sent: ISent): string {
  return new URL(sent.url).pathname.replace(/^.*\/scripting\//, '');
}

function type(
  control: HTMLInputElement | HTMLTextAreaElement | null,
  value: string
): void {
  if (!control) {
    throw new Error('no such field');
  }
  control.value = value;
  control.dispatchEvent(new Event('input'));
}

describe('ParametersForm', () => {
  it('has one typed field per parameter, its default filled and its hint', () => {
    const form = new ParametersForm(SCHEMA, 'f');
    expect(form.names).toEqual(['name', 'count', 'loud', 'tags']);
    expect(fieldKind(SCHEMA.properties!.tags)).toBe('json');
    const count = form.control('count') as HTMLInputElement;
    expect(count.type).toBe('number');
    expect(count.step).toBe('1');
    expect(count.value).toBe('3');
    expect((form.control('name') as HTMLInputElement).type).toBe('text');
    expect((form.control('loud') as HTMLInputElement).type).toBe('checkbox');
    expect(form.control('tags')?.tagName).toBe('TEXTAREA');
    expect(form.control('tags')?.value).toBe('null');
    const hint = form.node.querySelector(
      '[data-name="count"] .jp-scripting-param-hint'
    );
    expect(hint?.textContent).toBe('count: int = 3 — how many');
  });

  it("sends only the fields changed: the others keep the notebook's default", () => {
    const form = new ParametersForm(SCHEMA, 'f');
    expect(form.values()).toEqual({});
    const state = () =>
      form.node.querySelector('[data-name="count"] .jp-scripting-param-state')
        ?.textContent;
    expect(state()).toBe("notebook's default");
    type(form.control('count'), '5');
    type(form.control('tags'), '["a", "b"]');
    const loud = form.control('loud') as HTMLInputElement;
    loud.checked = true;
    loud.dispatchEvent(new Event('change'));
    expect(form.values()).toEqual({ count: 5, tags: ['a', 'b'], loud: true });
    expect(state()).toBe('sent');
    expect(
      form.node.querySelector('.jp-scripting-form-body')?.textContent
    ).toBe('{"count":5,"loud":true,"tags":["a","b"]}');

    form.node
      .querySelector<HTMLButtonElement>(
        '[data-name="count"] .jp-scripting-param-reset'
      )
      ?.click();
    expect(form.control('count')?.value).toBe('3');
    expect(form.values()).toEqual({ tags: ['a', 'b'], loud: true });
  });

  it('refuses a field that gives no value, and sends a wrong number as it is', () => {
    const form = new ParametersForm(SCHEMA, 'f');
    type(form.control('tags'), '[1,');
    type(form.control('count'), '2.5');
    let problems: FormProblems | null = null;
    try {
      form.values();
    } catch (error) {
      problems = error as FormProblems;
    }
    expect(problems?.problems.map(p => p.name)).toEqual(['tags']);
    type(form.control('tags'), 'null');
    expect(form.values()).toEqual({ count: 2.5, tags: null });
  });

  it('shows problems by their fields, and those of no field on top', () => {
    const form = new ParametersForm(SCHEMA, 'f');
    form.showProblems(INVALID.problems);
    const count = form.node.querySelector(
      '[data-name="count"] .jp-scripting-param-problem'
    );
    expect(count?.textContent).toBe('must be an integer, not a string');
    expect((count as HTMLElement).hidden).toBe(false);
    expect(form.control('count')?.getAttribute('aria-invalid')).toBe('true');
    const general = form.node.querySelector<HTMLElement>(
      '.jp-scripting-form-problems'
    );
    expect(general?.hidden).toBe(false);
    expect(general?.textContent).toContain('colour: unknown parameter');
    form.clearProblems();
    expect((count as HTMLElement).hidden).toBe(true);
    expect(general?.hidden).toBe(true);
  });
});

describe('RunWidget with a schema', () => {
  function serverWith(schema: IRunSchema, run: () => Response) {
    return clientWith(sent => {
      const path = route(sent);
      if (path.endsWith('/schema')) {
        return json(schema);
      }
      if (path.endsWith('/run')) {
        return run();
      }
      return json(SCRIPT);
    });
  }

  it('sends the form as a JSON body, and shows a 422 by its fields', async () => {
    const { client, sent } = serverWith(SCHEMA, () => json(INVALID, 422));
    const widget = new RunWidget(client, SCRIPT, actions);
    await widget.ready;
    expect(widget.raw).toBe(false);
    expect(
      widget.node.querySelector<HTMLElement>('.jp-scripting-body-input')
        ?.parentElement?.hidden
    ).toBe(true);
    type(widget.form!.control('count'), '7');
    await widget.run();

    const request = sent.find(s => route(s).endsWith('/run'))!;
    expect(request.method).toBe('POST');
    expect(request.headers.get('Content-Type')).toBe('application/json');
    expect(JSON.parse(request.body)).toEqual({ count: 7 });
    expect(
      widget.node.querySelector(
        '[data-name="count"] .jp-scripting-param-problem'
      )?.textContent
    ).toBe('must be an integer, not a string');
    expect(
      widget.node.querySelector('.jp-scripting-result .jp-scripting-problems')
        ?.textContent
    ).toContain('colour: unknown parameter');
    widget.dispose();
  });

  it('keeps the raw request a toggle away, starting from the form body', async () => {
    const { client, sent } = serverWith(SCHEMA, () => json({ ok: true }));
    const widget = new RunWidget(client, SCRIPT, actions);
    await widget.ready;
    type(widget.form!.control('name'), 'Ada');
    widget.raw = true;
    const body = widget.node.querySelector<HTMLTextAreaElement>(
      '.jp-scripting-body-input'
    )!;
    expect(body.value).toBe('{"name":"Ada"}');
    body.value = '{"name": 1}';
    await widget.run();
    expect(sent.find(s => route(s).endsWith('/run'))?.body).toBe('{"name": 1}');
    // Edited by hand, the raw body is not filled from the form again.
    widget.raw = false;
    widget.raw = true;
    expect(body.value).toBe('{"name": 1}');
    widget.dispose();
  });

  it('has no form and says so for a script without parameters', async () => {
    const { client } = serverWith(NO_PARAMETERS, () => json({}));
    const widget = new RunWidget(client, SCRIPT, actions);
    await widget.ready;
    expect(widget.form).toBeNull();
    expect(widget.raw).toBe(true);
    expect(
      widget.node.querySelector<HTMLElement>('.jp-scripting-raw-toggle-label')
        ?.hidden
    ).toBe(true);
    expect(
      widget.node.querySelector('.jp-scripting-schema-note')?.textContent
    ).toBe(NO_PARAMETERS.description);
    widget.dispose();
  });
});
