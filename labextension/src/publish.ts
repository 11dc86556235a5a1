/** "Publish as script": a notebook becomes a script, or a new version of its script. */
import {
  Clipboard,
  Dialog,
  InputDialog,
  showDialog
} from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import {
  INotebookContent,
  IScript,
  ScriptingApiError,
  ScriptingClient
} from './api';
import { button, h } from './dom';

/** Where a notebook remembers the script it was published as. */
export const METADATA_KEY = 'jupyter_scripting';

/** The link kept in the notebook's metadata. */
export interface IScriptLink {
  scriptId: string;
  name: string;
}

export function scriptLink(panel: NotebookPanel): IScriptLink | null {
  const value = panel.model?.getMetadata(METADATA_KEY) as
    Partial<IScriptLink> | undefined;
  return value && typeof value.scriptId === 'string'
    ? { scriptId: value.scriptId, name: String(value.name ?? '') }
    : null;
}

function defaultName(panel: NotebookPanel): string {
  return (
    panel.context.path
      .split('/')
      .pop()
      ?.replace(/\.ipynb$/, '') || 'script'
  );
}

/** A shell-quoted argument. */
function quote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The curl command that runs the script, credentials included when there are some. */
export function curlLine(client: ScriptingClient, scriptId: string): string {
  const token = client.serverSettings.token;
  const auth = token ? ` -H ${quote(`Authorization: token ${token}`)}` : '';
  return (
    `curl -X POST${auth} -H 'Content-Type: application/json' ` +
    `-d '{}' ${quote(client.runUrl(scriptId))}`
  );
}

async function askName(
  panel: NotebookPanel,
  title: string
): Promise<string | null> {
  const result = await InputDialog.getText({
    title,
    label: 'Script name',
    text: defaultName(panel),
    okLabel: 'Publish'
  });
  const name = result.value?.trim();
  return result.button.accept && name ? name : null;
}

/**
 * Publish the notebook as it is in the editor (unsaved changes included): a new version
 * of the script it is linked to, else a new script. Saves the notebook with the link.
 * Resolves with the script, or null when the user cancelled.
 */
export async function publishNotebook(
  panel: NotebookPanel,
  client: ScriptingClient
): Promise<IScript | null> {
  await panel.context.ready;
  const link = scriptLink(panel);
  const notebook = panel.context.model.toJSON() as unknown as INotebookContent;
  let script: IScript | null = null;
  if (link) {
    try {
      script = await client.updateScript(link.scriptId, notebook);
    } catch (error) {
      if (!(error instanceof ScriptingApiError && error.status === 404)) {
        throw error;
      }
      const answer = await showDialog({
        title: 'Script not found',
        body: `This notebook was published as "${link.name}" (${link.scriptId}), which no longer exists. Publish it as a new script?`,
        buttons: [
          Dialog.cancelButton(),
          Dialog.okButton({ label: 'Publish as new' })
        ]
      });
      if (!answer.button.accept) {
        return null;
      }
    }
  }
  if (!script) {
    const name = await askName(panel, 'Publish as script');
    if (!name) {
      return null;
    }
    script = await client.createScript(name, notebook);
  }
  panel.model?.setMetadata(METADATA_KEY, {
    scriptId: script.scriptId,
    name: script.name
  });
  await panel.context.save();
  return script;
}

/** The body of the "Published" dialog: the URL and the curl line, each with a copy button. */
class PublishedBody extends Widget {
  constructor(script: IScript, client: ScriptingClient) {
    super();
    this.addClass('jp-scripting-published');
    const url = client.runUrl(script.scriptId);
    const curl = curlLine(client, script.scriptId);
    const row = (label: string, value: string, cls: string) =>
      h(
        'div',
        { class: 'jp-scripting-published-row' },
        h('div', { class: 'jp-scripting-published-label' }, label),
        h('code', { class: cls }, value),
        button('Copy', () => Clipboard.copyToSystem(value), {
          title: `Copy the ${label}`
        })
      );
    this.node.append(
      h(
        'p',
        {},
        `"${script.name}" is published as version ${script.version} (script id `,
        h('code', { class: 'jp-scripting-script-id' }, script.scriptId),
        ').'
      ),
      row('URL', url, 'jp-scripting-url'),
      row('curl', curl, 'jp-scripting-curl')
    );
  }
}

/** Say where the script is; resolves true when the user wants to run it now. */
export async function showPublished(
  script: IScript,
  client: ScriptingClient
): Promise<boolean> {
  const result = await showDialog({
    title: `Published "${script.name}" v${script.version}`,
    body: new PublishedBody(script, client),
    buttons: [
      Dialog.cancelButton({ label: 'Close' }),
      Dialog.okButton({ label: 'Run…' })
    ]
  });
  return result.button.accept;
}
