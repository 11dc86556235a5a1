/**
 * The run dialog's form of a script's parameters, built from its schema
 * (`GET …/schema`): one typed field per parameter of the notebook's `parameters` cell.
 *
 * A field that was not changed is not sent, so the notebook's own default applies (also
 * when it is an expression the schema cannot give, like `today()`); each field says
 * whether it is sent, "Reset" leaves it to the notebook again, and the body to be sent
 * is shown under the form.
 */
import { IParameterSchema, IProblem, IRunSchema, JsonType } from './api';
import { button, h } from './dom';

/** How a parameter is edited. */
export type FieldKind = 'integer' | 'number' | 'boolean' | 'string' | 'json';

/** The field kind of a schema property: JSON text for lists, objects, unions and any. */
export function fieldKind(schema: IParameterSchema): FieldKind {
  const types: JsonType[] =
    schema.type === undefined
      ? []
      : Array.isArray(schema.type)
        ? schema.type
        : [schema.type];
  if (types.length === 1) {
    const [type] = types;
    if (
      type === 'integer' ||
      type === 'number' ||
      type === 'boolean' ||
      type === 'string'
    ) {
      return type;
    }
  }
  return 'json';
}

/** Fields the user filled in wrongly, before anything is sent. */
export class FormProblems extends Error {
  constructor(readonly problems: IProblem[]) {
    super(problems.map(p => `${p.name}: ${p.problem}`).join('; '));
    this.name = 'FormProblems';
  }
}

class Field {
  constructor(
    readonly name: string,
    readonly schema: IParameterSchema,
    id: string
  ) {
    this.kind = fieldKind(schema);
    const types = schema.type === undefined ? [] : [schema.type].flat();
    this.acceptsText = types.length === 0 || types.includes('string');
    const attributes = {
      id,
      class: `jp-scripting-param-input jp-scripting-param-${this.kind}`,
      'data-name': name,
      'aria-describedby': `${id}-hint ${id}-problem`
    };
    if (this.kind === 'json') {
      this.control = h('textarea', {
        ...attributes,
        rows: '2',
        spellcheck: 'false'
      });
    } else {
      this.control = h('input', {
        ...attributes,
        type:
          this.kind === 'boolean'
            ? 'checkbox'
            : this.kind === 'string'
              ? 'text'
              : 'number',
        step:
          this.kind === 'integer'
            ? '1'
            : this.kind === 'number'
              ? 'any'
              : undefined
      });
    }
    this.control.addEventListener(
      this.kind === 'boolean' ? 'change' : 'input',
      () => this.setSent(true)
    );
    this.state = h('span', { class: 'jp-scripting-param-state' });
    this.reset = button('Reset', () => this.resetToDefault(), {
      class: 'jp-Button jp-mod-styled jp-mod-reject jp-scripting-param-reset',
      title: "Send nothing for it: the notebook's default applies",
      'aria-label': `Reset ${name}`
    });
    this.problem = h('div', {
      id: `${id}-problem`,
      class: 'jp-scripting-param-problem',
      hidden: ''
    });
    const typeText =
      schema.type === undefined ? 'any' : [schema.type].flat().join(' | ');
    this.node = h(
      'div',
      { class: 'jp-scripting-param', 'data-name': name },
      h(
        'label',
        { class: 'jp-scripting-param-label', for: id },
        h('span', { class: 'jp-scripting-param-name' }, name),
        h('span', { class: 'jp-scripting-param-type' }, typeText)
      ),
      h(
        'div',
        { class: 'jp-scripting-param-control' },
        this.control,
        this.state,
        this.reset
      ),
      h(
        'div',
        { id: `${id}-hint`, class: 'jp-scripting-param-hint' },
        h('code', {}, schema['x-python']),
        schema.description ? ` — ${schema.description}` : null,
        this.kind === 'json' ? ' (a JSON value)' : null
      ),
      this.problem
    );
    this.resetToDefault();
  }

  readonly node: HTMLElement;
  readonly kind: FieldKind;
  readonly control: HTMLInputElement | HTMLTextAreaElement;

  /** Whether the field is sent (it was changed since the default was filled in). */
  get sent(): boolean {
    return this._sent;
  }

  /** The value to send; throws the problem's text when the field cannot give one. */
  value(): unknown {
    if (this.control instanceof HTMLInputElement && this.kind === 'boolean') {
      return this.control.checked;
    }
    const text = this.control.value;
    if (this.kind === 'string') {
      return text;
    }
    if (this.kind === 'integer' || this.kind === 'number') {
      // A number input's value is '' when what is typed is no number.
      if (!text.trim()) {
        throw new Error('enter a number, or Reset to leave it to the notebook');
      }
      // Sent as it is (2.5 for an integer too): the server says what is wrong.
      return Number(text);
    }
    try {
      return JSON.parse(text);
    } catch {
      if (this.acceptsText) {
        return text; // `str | None` and the like: plain text is the string
      }
      throw new Error(
        'not valid JSON (e.g. 3, "text", [1, 2], {"a": 1} or null)'
      );
    }
  }

  set disabled(disabled: boolean) {
    this.control.disabled = disabled;
    this.reset.disabled = disabled || !this._sent;
  }

  showProblem(text: string | null): void {
    this.problem.textContent = text ?? '';
    this.problem.hidden = text === null;
    if (text === null) {
      this.control.removeAttribute('aria-invalid');
      this.node.classList.remove('jp-mod-invalid');
    } else {
      this.control.setAttribute('aria-invalid', 'true');
      this.node.classList.add('jp-mod-invalid');
    }
  }

  /** Called when the field changes (to update the body shown). */
  onChange: () => void = () => undefined;

  private resetToDefault(): void {
    const value = this.schema.default;
    const has = 'default' in this.schema;
    if (this.control instanceof HTMLInputElement && this.kind === 'boolean') {
      this.control.checked = value === true;
    } else if (this.kind === 'json') {
      this.control.value = has ? JSON.stringify(value) : '';
    } else {
      this.control.value = has && value !== null ? String(value) : '';
    }
    this.setSent(false);
  }

  private setSent(sent: boolean): void {
    this._sent = sent;
    this.state.textContent = sent ? 'sent' : "notebook's default";
    this.state.title = sent
      ? 'This value is sent with the run.'
      : 'Not sent: the notebook runs with its own default.';
    this.node.classList.toggle('jp-mod-sent', sent);
    this.reset.disabled = !sent || this.control.disabled;
    this.onChange();
  }

  private readonly acceptsText: boolean;
  private readonly state: HTMLElement;
  private readonly reset: HTMLButtonElement;
  private readonly problem: HTMLElement;
  private _sent = false;
}

/** The form of one script's parameters (its schema has `properties`). */
export class ParametersForm {
  constructor(
    readonly schema: IRunSchema,
    idPrefix: string
  ) {
    const properties = schema.properties ?? {};
    this.fields = Object.entries(properties).map(
      ([name, property], i) =>
        new Field(name, property, `${idPrefix}-param-${i}`)
    );
    this.general = h('div', {
      class: 'jp-scripting-error jp-scripting-form-problems',
      hidden: ''
    });
    this.preview = h('pre', { class: 'jp-scripting-form-body' });
    const mode = schema['x-parameters'];
    this.node = h(
      'fieldset',
      { class: 'jp-scripting-params' },
      h(
        'legend',
        {},
        'Parameters',
        mode
          ? h(
              'span',
              { class: 'jp-scripting-params-mode' },
              mode === 'strict'
                ? ' (strict: other names are refused)'
                : ' (lenient: other names are passed on unchecked)'
            )
          : null
      ),
      this.general,
      ...this.fields.map(field => field.node),
      h(
        'div',
        { class: 'jp-scripting-form-body-row' },
        h('span', {}, 'JSON body sent:'),
        this.preview
      )
    );
    for (const field of this.fields) {
      field.onChange = () => this.updatePreview();
    }
    this.updatePreview();
  }

  readonly node: HTMLElement;

  /** The names of the parameters, in the notebook's order. */
  get names(): string[] {
    return this.fields.map(field => field.name);
  }

  /** The field of a parameter (its control), for tests and focus. */
  control(name: string): HTMLInputElement | HTMLTextAreaElement | null {
    return this.fields.find(field => field.name === name)?.control ?? null;
  }

  /** The JSON body: the fields that are sent. Throws `FormProblems` for bad fields. */
  values(): { [name: string]: unknown } {
    const values: { [name: string]: unknown } = {};
    const problems: IProblem[] = [];
    for (const field of this.fields) {
      if (!field.sent) {
        continue;
      }
      try {
        values[field.name] = field.value();
      } catch (error) {
        problems.push({ name: field.name, problem: (error as Error).message });
      }
    }
    if (problems.length) {
      throw new FormProblems(problems);
    }
    return values;
  }

  /** Show each problem by its field; those of no field (unknown names, the body) on top. */
  showProblems(problems: IProblem[]): void {
    this.clearProblems();
    const general: IProblem[] = [];
    for (const problem of problems) {
      const field = this.fields.find(f => f.name === problem.name);
      if (field) {
        field.showProblem(problem.problem);
      } else {
        general.push(problem);
      }
    }
    if (general.length) {
      this.general.replaceChildren(
        ...general.map(p =>
          h('div', {}, h('code', {}, p.name), `: ${p.problem}`)
        )
      );
      this.general.hidden = false;
    }
  }

  clearProblems(): void {
    for (const field of this.fields) {
      field.showProblem(null);
    }
    this.general.replaceChildren();
    this.general.hidden = true;
  }

  set disabled(disabled: boolean) {
    for (const field of this.fields) {
      field.disabled = disabled;
    }
  }

  private updatePreview(): void {
    try {
      this.preview.textContent = JSON.stringify(this.values());
      this.preview.classList.remove('jp-mod-invalid');
    } catch (error) {
      this.preview.textContent = `(not sendable: ${(error as Error).message})`;
      this.preview.classList.add('jp-mod-invalid');
    }
  }

  private fields: Field[];
  private general: HTMLElement;
  private preview: HTMLElement;
}
