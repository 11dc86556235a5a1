/**
 * The Variables view (README, "Variables and secrets"): the tenant's variables and
 * secrets, set, replaced and deleted. A secret's value is write-only: the server never
 * sends it back, and the view never keeps it once it is sent.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import {
  IVariable,
  MIN_SECRET_LENGTH,
  ScriptingApiError,
  ScriptingClient,
  VARIABLE_NAME,
  describe
} from './api';
import { button, formatDate, h } from './dom';

/** Asks whether to delete a variable; resolves true to go ahead. */
export type ConfirmDelete = (variable: IVariable) => Promise<boolean>;

/** A message for the view: a 403 says that the key cannot manage variables. */
export function describeVariables(error: unknown, what: string): string {
  if (error instanceof ScriptingApiError && error.status === 403) {
    return (
      `${what}: 403 Forbidden: this API key cannot manage variables ` +
      '(admin and developer keys can, runner keys cannot).'
    );
  }
  return describe(error, what);
}

/** What is wrong with a variable's name (null: nothing). */
export function nameProblem(name: string): string | null {
  if (!name) {
    return 'Give the variable a name.';
  }
  if (!VARIABLE_NAME.test(name)) {
    return (
      `"${name.slice(0, 140)}" is not a variable name: letters, digits and ` +
      'underscores, not starting with a digit, at most 128 characters.'
    );
  }
  return null;
}

async function confirmWithDialog(variable: IVariable): Promise<boolean> {
  const kind = variable.secret ? 'secret' : 'variable';
  const result = await showDialog({
    title: `Delete ${kind}`,
    body:
      `Delete the ${kind} "${variable.name}"? The scripts that ask for it no longer ` +
      'get it from their next run on. This cannot be undone.',
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
  });
  return result.button.accept;
}

/** The Variables view of the tenant (a main-area tab). */
export class VariablesWidget extends Widget {
  constructor(
    private readonly client: ScriptingClient,
    private readonly confirmDelete: ConfirmDelete = confirmWithDialog
  ) {
    super();
    this.id = 'jp-scripting-variables';
    this.title.label = 'Variables';
    this.title.caption =
      "The tenant's variables and secrets, which scripts' runs get by name";
    this.title.closable = true;
    this.addClass('jp-scripting-variables');

    this.message = h('div', {
      class: 'jp-scripting-message jp-scripting-variables-message',
      'aria-live': 'polite'
    });
    this.rows = h('tbody', {});
    this.empty = h('div', { class: 'jp-scripting-empty' });

    this.nameInput = h('input', {
      type: 'text',
      class: 'jp-scripting-variable-name-input',
      'aria-label': 'Name',
      placeholder: 'NAME',
      autocomplete: 'off',
      spellcheck: 'false'
    });
    this.valueInput = h('input', {
      class: 'jp-scripting-variable-value-input',
      'aria-label': 'Value',
      spellcheck: 'false'
    });
    this.secretInput = h('input', {
      type: 'checkbox',
      class: 'jp-scripting-variable-secret-input'
    });
    this.secretInput.checked = true; // as the server's default
    this.secretInput.addEventListener('change', () => this.showValueKind());
    this.showValueKind();
    this.setButton = button('Set', () => void this.submit(), {
      class: 'jp-Button jp-mod-styled jp-mod-accept jp-scripting-variable-set',
      title: 'Create the variable, or replace its value and kind'
    });
    this.formMessage = h('div', {
      class: 'jp-scripting-message jp-scripting-variable-form-message',
      'aria-live': 'polite'
    });
    const form = h(
      'form',
      { class: 'jp-scripting-variable-form' },
      h(
        'label',
        { class: 'jp-scripting-field' },
        h('span', {}, 'Name'),
        this.nameInput
      ),
      h(
        'label',
        { class: 'jp-scripting-field jp-scripting-variable-value-field' },
        h('span', {}, 'Value'),
        this.valueInput
      ),
      h(
        'label',
        {
          class: 'jp-scripting-variable-secret',
          title:
            "A secret's value is never shown again, and is masked (***) in what its runs leave"
        },
        this.secretInput,
        ' secret'
      ),
      this.setButton
    );
    form.addEventListener('submit', event => {
      event.preventDefault();
      void this.submit();
    });

    this.node.append(
      h(
        'div',
        { class: 'jp-scripting-toolbar' },
        h('h2', {}, 'Variables and secrets'),
        button('Refresh', () => void this.refresh(), {
          class: 'jp-Button jp-mod-styled jp-mod-reject jp-scripting-refresh',
          title: 'Reload the list of variables'
        })
      ),
      h(
        'p',
        { class: 'jp-scripting-hint' },
        "A script's runs get the variables it asks for by name (Variables in the " +
          "Scripts panel) as secrets[NAME] and in the kernel's environment. A " +
          "secret's value is never shown again."
      ),
      this.message,
      h(
        'table',
        { class: 'jp-scripting-variable-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['Name', 'Kind', 'Value', 'Updated', ''].map(label =>
              h('th', {}, label)
            )
          )
        ),
        this.rows
      ),
      this.empty,
      h('h3', {}, 'Set a variable'),
      form,
      this.formMessage
    );
    this.ready = this.refresh();
  }

  /** Settles when the first listing has been shown (or its error). */
  readonly ready: Promise<void>;

  /** The variables listed last. */
  get variables(): readonly IVariable[] {
    return this._variables;
  }

  /**
   * Reload the list, then the values of the plain variables (a request each: the list
   * has no values). A secret's is never asked for. `notice` is the view's message once
   * the list is shown (what the last action did).
   */
  async refresh(notice = ''): Promise<void> {
    const shown = ++this._shown;
    this.message.textContent = 'Loading…';
    this.message.classList.remove('jp-scripting-error');
    let variables: IVariable[];
    try {
      variables = (await this.client.listVariables()).variables;
    } catch (error) {
      if (shown === this._shown) {
        this.showError(
          describeVariables(error, 'Could not list the variables')
        );
      }
      return;
    }
    if (shown !== this._shown) {
      return;
    }
    this._variables = variables;
    this.message.textContent = notice;
    this.empty.textContent = variables.length
      ? ''
      : 'No variables yet: set one below.';
    const cells = new Map<string, HTMLElement>();
    this.rows.replaceChildren(
      ...variables.map(variable => {
        const value = h('td', { class: 'jp-scripting-variable-value' });
        cells.set(variable.name, value);
        return this.row(variable, value);
      })
    );
    await Promise.all(
      variables
        .filter(variable => !variable.secret)
        .map(async variable => {
          const cell = cells.get(variable.name);
          cell?.replaceChildren(
            h('span', { class: 'jp-scripting-progress' }, '…')
          );
          let text: (Node | string)[];
          try {
            const read = await this.client.getVariable(variable.name);
            text = [
              h(
                'code',
                { title: read.value ?? '' },
                read.secret ? '' : (read.value ?? '')
              )
            ];
          } catch (error) {
            text = [
              h(
                'span',
                { class: 'jp-scripting-error' },
                describeVariables(error, 'Could not read it')
              )
            ];
          }
          if (shown === this._shown) {
            cell?.replaceChildren(...text);
          }
        })
    );
  }

  /** Set the variable of the form, then list again. */
  async submit(): Promise<void> {
    const name = this.nameInput.value.trim();
    const value = this.valueInput.value;
    const secret = this.secretInput.checked;
    const problem =
      nameProblem(name) ??
      (secret && value.length < MIN_SECRET_LENGTH
        ? `A secret needs at least ${MIN_SECRET_LENGTH} characters (a shorter one could not be masked in outputs); untick "secret" to store a plain variable.`
        : null);
    if (problem) {
      this.showFormMessage(problem, true);
      return;
    }
    const replaced = this._variables.some(v => v.name === name);
    this.setButton.disabled = true;
    try {
      await this.client.putVariable(name, { value, secret });
    } catch (error) {
      this.showFormMessage(
        describeVariables(error, `Could not set ${name}`),
        true
      );
      return;
    } finally {
      this.setButton.disabled = false;
    }
    // The value is on the server now: the page keeps no copy of it.
    this.valueInput.value = '';
    this.nameInput.value = '';
    this.showFormMessage(
      `${replaced ? 'Replaced' : 'Created'} the ${secret ? 'secret' : 'variable'} ${name}.`,
      false
    );
    await this.refresh();
  }

  /** Ask, then delete the variable and list again. */
  async delete(variable: IVariable): Promise<void> {
    if (!(await this.confirmDelete(variable))) {
      return;
    }
    try {
      await this.client.deleteVariable(variable.name);
    } catch (error) {
      await this.refresh();
      this.showError(
        describeVariables(error, `Could not delete ${variable.name}`)
      );
      return;
    }
    await this.refresh(`Deleted ${variable.name}.`);
  }

  /** Fill the form to replace a variable (a plain one's value too; never a secret's). */
  edit(variable: IVariable, value: string | undefined): void {
    this.nameInput.value = variable.name;
    this.secretInput.checked = variable.secret;
    this.showValueKind();
    this.valueInput.value = variable.secret ? '' : (value ?? '');
    this.showFormMessage(
      variable.secret
        ? `Type the new value of the secret ${variable.name}.`
        : `Change the value of ${variable.name}, then Set.`,
      false
    );
    this.valueInput.focus();
  }

  private row(variable: IVariable, value: HTMLElement): HTMLTableRowElement {
    return h(
      'tr',
      {
        class: 'jp-scripting-variable-row',
        'data-name': variable.name,
        title: `Created ${formatDate(variable.createdAt)}`
      },
      h(
        'td',
        {},
        h('code', { class: 'jp-scripting-variable-name' }, variable.name)
      ),
      h(
        'td',
        {
          class: `jp-scripting-variable-kind jp-mod-${
            variable.secret ? 'secret' : 'plain'
          }`
        },
        variable.secret ? 'secret' : 'plain'
      ),
      variable.secret
        ? h(
            'td',
            {
              class: 'jp-scripting-variable-value jp-scripting-variable-hidden',
              title: "A secret's value is never shown"
            },
            '(hidden)'
          )
        : value,
      h(
        'td',
        { class: 'jp-scripting-variable-updated' },
        formatDate(variable.updatedAt)
      ),
      h(
        'td',
        { class: 'jp-scripting-variable-actions' },
        button(
          'Edit',
          () =>
            this.edit(
              variable,
              value.querySelector('code')?.textContent ?? undefined
            ),
          { title: variable.secret ? 'Replace its value' : 'Change its value' }
        ),
        button('Delete', () => void this.delete(variable), {
          class: 'jp-Button jp-mod-styled jp-mod-warn jp-scripting-delete',
          title: `Delete ${variable.name}`
        })
      )
    );
  }

  /** A secret's value is typed into a password field, a plain one's into a text field. */
  private showValueKind(): void {
    const secret = this.secretInput.checked;
    this.valueInput.type = secret ? 'password' : 'text';
    this.valueInput.autocomplete = secret ? 'new-password' : 'off';
    this.valueInput.placeholder = secret
      ? `at least ${MIN_SECRET_LENGTH} characters`
      : 'value';
  }

  private showError(text: string): void {
    this.message.textContent = text;
    this.message.classList.add('jp-scripting-error');
  }

  private showFormMessage(text: string, error: boolean): void {
    this.formMessage.textContent = text;
    this.formMessage.classList.toggle('jp-scripting-error', error);
  }

  private _variables: IVariable[] = [];
  /** Counts the listings begun: only the last one is shown. */
  private _shown = 0;
  private message: HTMLElement;
  private formMessage: HTMLElement;
  private rows: HTMLTableSectionElement;
  private empty: HTMLElement;
  private nameInput: HTMLInputElement;
  private valueInput: HTMLInputElement;
  private secretInput: HTMLInputElement;
  private setButton: HTMLButtonElement;
}
