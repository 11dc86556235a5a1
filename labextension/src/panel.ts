/** The Scripts panel of the left sidebar: the tenant's scripts and what to do with them. */
import {
  Dialog,
  InputDialog,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import {
  IExecution,
  IScheduledRun,
  IScript,
  IScriptListItem,
  MAX_VARIABLES_PER_SCRIPT,
  ScriptingClient,
  VARIABLE_NAME,
  describe
} from './api';
import { lastDeliveriesLine, webhookLine } from './deliveries';
import { button, formatDate, h, statusBadge } from './dom';
import { retriesLine } from './retries';
import type { IScriptActions } from './run';

/** What the panel asks of the plugin, beyond the run and log actions. */
export interface IPanelActions extends IScriptActions {
  openRun(script: IScript): void;
  openVersion(script: IScript, version: number): void;
  /** Open the tenant's Variables view. */
  openVariables(): void;
}

/**
 * The names in a comma- (or space-) separated list, each once, in order; throws with
 * the names that cannot be variable names.
 */
export function parseVariableNames(text: string): string[] {
  const names = [
    ...new Set(text.split(/[\s,]+/).filter(name => name.length > 0))
  ];
  const bad = names.filter(name => !VARIABLE_NAME.test(name));
  if (bad.length) {
    throw new Error(
      `Not variable names: ${bad.map(n => `"${n.slice(0, 140)}"`).join(', ')} ` +
        '(letters, digits and underscores, not starting with a digit).'
    );
  }
  if (names.length > MAX_VARIABLES_PER_SCRIPT) {
    throw new Error(
      `A script may ask for at most ${MAX_VARIABLES_PER_SCRIPT} variables.`
    );
  }
  return names;
}

export class ScriptsPanel extends Widget {
  constructor(
    private readonly client: ScriptingClient,
    private readonly actions: IPanelActions
  ) {
    super();
    this.id = 'jp-scripting-panel';
    this.title.caption = 'Scripts';
    this.addClass('jp-scripting-panel');
    this.message = h('div', {
      class: 'jp-scripting-message',
      'aria-live': 'polite'
    });
    this.list = h('ul', { class: 'jp-scripting-list' });
    this.node.append(
      h(
        'div',
        { class: 'jp-scripting-panel-header' },
        h('h2', {}, 'Scripts'),
        button('Variables', () => this.actions.openVariables(), {
          class:
            'jp-Button jp-mod-styled jp-mod-reject jp-scripting-open-variables',
          title: "The tenant's variables and secrets"
        }),
        button('Refresh', () => void this.refresh(), {
          class: 'jp-Button jp-mod-styled jp-mod-reject jp-scripting-refresh',
          title: 'Reload the list of scripts'
        })
      ),
      this.message,
      this.list
    );
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  /** Reload the scripts, each with its last run (one request). */
  async refresh(): Promise<void> {
    this.message.textContent = 'Loading…';
    this.message.classList.remove('jp-scripting-error');
    let scripts: IScriptListItem[];
    try {
      scripts = (await this.client.listScripts()).scripts;
    } catch (error) {
      this.message.textContent = describe(error, 'Could not list the scripts');
      this.message.classList.add('jp-scripting-error');
      return;
    }
    this.message.textContent = scripts.length
      ? ''
      : 'No scripts yet. Open a notebook and click "Publish as script".';
    this.list.replaceChildren(...scripts.map(script => this.item(script)));
  }

  private item(script: IScriptListItem): HTMLElement {
    const lastRun = h(
      'div',
      { class: 'jp-scripting-last-run' },
      ...lastRunText(script.lastExecution)
    );
    const node = h(
      'li',
      { class: 'jp-scripting-item', 'data-script-id': script.scriptId },
      h(
        'div',
        { class: 'jp-scripting-item-title' },
        h('span', { class: 'jp-scripting-item-name' }, script.name),
        h('span', { class: 'jp-scripting-item-version' }, `v${script.version}`)
      ),
      h(
        'div',
        { class: 'jp-scripting-item-id', title: 'Script id' },
        script.scriptId
      ),
      lastRun,
      ...scheduleLine(script.nextScheduledRun),
      ...webhookLine(script.webhook),
      ...lastDeliveriesLine(script.webhook, script.lastDeliveries),
      this.variablesLine(script),
      ...retriesLine(script.retries),
      h(
        'div',
        { class: 'jp-scripting-item-actions' },
        button('Run', () => this.actions.openRun(script), {
          title: 'Open the run dialog'
        }),
        button('Logs', () => this.actions.openLogs(script), {
          title: 'Open the execution log'
        }),
        button('Notebook', () => void this.openVersion(script), {
          title: 'Open the notebook of a version'
        }),
        button('Rename', () => void this.rename(script), {
          title: 'Rename the script'
        }),
        button('Delete', () => void this.delete(script), {
          title: 'Delete the script, its versions and logs',
          class: 'jp-Button jp-mod-styled jp-mod-warn jp-scripting-delete'
        })
      )
    );
    return node;
  }

  /** "Variables: A, B" (or none), and the way to change them. */
  private variablesLine(script: IScript): HTMLElement {
    const names = script.variables;
    return h(
      'div',
      {
        class: 'jp-scripting-variables-line',
        title:
          "The tenant's variables its runs get (secrets[NAME] and the environment)"
      },
      'Variables: ',
      names.length
        ? h('span', { class: 'jp-scripting-variable-names' }, names.join(', '))
        : h(
            'span',
            { class: 'jp-scripting-variable-names jp-mod-none' },
            'none'
          ),
      ' ',
      button('Edit', () => void this.editVariables(script), {
        class: 'jp-scripting-link jp-scripting-edit-variables',
        title: 'Choose the variables its runs get'
      })
    );
  }

  private async editVariables(script: IScript): Promise<void> {
    const result = await InputDialog.getText({
      title: `Variables of "${script.name}"`,
      label:
        'The names of the variables its runs get, comma-separated (empty: none)',
      text: script.variables.join(', '),
      placeholder: 'API_KEY, REGION',
      okLabel: 'Set'
    });
    if (!result.button.accept || result.value === null) {
      return;
    }
    let names: string[];
    try {
      names = parseVariableNames(result.value);
    } catch (error) {
      await showErrorMessage(
        'Variables not set',
        describe(error, `Could not set the variables of "${script.name}"`)
      );
      return;
    }
    try {
      await this.client.setScriptVariables(
        script.scriptId,
        names.length ? names : null
      );
    } catch (error) {
      await showErrorMessage(
        'Variables not set',
        describe(error, `Could not set the variables of "${script.name}"`)
      );
    }
    await this.refresh();
  }

  private async openVersion(script: IScript): Promise<void> {
    let version = script.version;
    if (script.version > 1) {
      const result = await InputDialog.getNumber({
        title: `Open a version of "${script.name}"`,
        label: `Version (1–${script.version})`,
        value: script.version
      });
      if (!result.button.accept || result.value === null) {
        return;
      }
      version = result.value;
    }
    this.actions.openVersion(script, version);
  }

  private async rename(script: IScript): Promise<void> {
    const result = await InputDialog.getText({
      title: 'Rename script',
      label: 'New name',
      text: script.name,
      okLabel: 'Rename'
    });
    const name = result.value?.trim();
    if (!result.button.accept || !name || name === script.name) {
      return;
    }
    try {
      await this.client.renameScript(script.scriptId, name);
    } catch (error) {
      await showErrorMessage(
        'Rename failed',
        describe(error, `Could not rename "${script.name}"`)
      );
    }
    await this.refresh();
  }

  private async delete(script: IScript): Promise<void> {
    const result = await showDialog({
      title: 'Delete script',
      body: `Delete "${script.name}" (${script.scriptId}) with all its versions and execution logs? This cannot be undone.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await this.client.deleteScript(script.scriptId);
    } catch (error) {
      await showErrorMessage(
        'Delete failed',
        describe(error, `Could not delete "${script.name}"`)
      );
    }
    await this.refresh();
  }

  private message: HTMLElement;
  private list: HTMLElement;
}

/** "scheduled 0 9 * * 1-5 (Europe/Berlin) · next …", for a script with a schedule. */
function scheduleLine(next: IScheduledRun | null): HTMLElement[] {
  if (!next) {
    return [];
  }
  return [
    h(
      'div',
      {
        class: 'jp-scripting-next-run',
        title: `Schedule ${next.scheduleId}: the next run it queues`
      },
      'scheduled ',
      h('code', { class: 'jp-scripting-cron' }, next.cron),
      ` (${next.timezone}) · next ${formatDate(next.at)}`
    )
  ];
}

function lastRunText(execution: IExecution | null): (Node | string)[] {
  if (!execution) {
    return ['never run'];
  }
  return [
    'last run ',
    statusBadge(execution.statusCode, execution.state),
    ` ${formatDate(execution.executionDate)}`
  ];
}
