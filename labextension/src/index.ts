/**
 * jupyter_scripting in JupyterLab: publish the open notebook as an HTTP script, run it
 * from a dialog, and read its logs and executed notebooks — plugins and commands only;
 * the widgets live in their own modules.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  ToolbarButton,
  WidgetTracker,
  showErrorMessage
} from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import {
  INotebookTracker,
  INotebookWidgetFactory,
  NotebookPanel,
  NotebookWidgetFactory
} from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { IScript, ScriptingClient } from './api';
import { ScriptingDrive, executionPath, versionPath } from './drive';
import { LogsWidget, describe } from './logs';
import { ScriptsPanel } from './panel';
import { publishNotebook, showPublished } from './publish';
import { IScriptRef, RunWidget } from './run';

namespace CommandIDs {
  export const publish = 'jupyter-scripting:publish';
  export const openPanel = 'jupyter-scripting:open-panel';
  export const run = 'jupyter-scripting:run';
  export const logs = 'jupyter-scripting:logs';
  export const openVersion = 'jupyter-scripting:open-version';
  export const openExecution = 'jupyter-scripting:open-execution';
}

/** Opens published notebooks: no kernel, cells read-only. */
const READ_ONLY_FACTORY = 'Published notebook (read-only)';

export const scriptIcon = new LabIcon({
  name: 'jupyter-scripting:script',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" d="M9.4 16.6 4.8 12l4.6-4.6L8 6l-6 6 6 6 1.4-1.4z' +
    'm5.2 0 4.6-4.6-4.6-4.6L16 6l6 6-6 6-1.4-1.4z"/></svg>'
});

function scriptArgs(script: IScriptRef): { scriptId: string; name: string } {
  return { scriptId: script.scriptId, name: script.name };
}

function refOf(args: { [key: string]: unknown }): IScriptRef {
  return { scriptId: String(args.scriptId), name: String(args.name ?? args.scriptId) };
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-scripting:plugin',
  description: 'Publish notebooks as HTTP scripts, run them and read their logs.',
  autoStart: true,
  requires: [INotebookTracker, IDocumentManager],
  optional: [ICommandPalette, ILayoutRestorer, INotebookWidgetFactory],
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker,
    docManager: IDocumentManager,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    notebookFactory: NotebookWidgetFactory.IFactory | null
  ): void => {
    const { commands, shell } = app;
    const documents = app.docRegistry;
    const client = new ScriptingClient(app.serviceManager.serverSettings);
    docManager.services.contents.addDrive(new ScriptingDrive(client));

    // Published notebooks open without a kernel and with read-only cells.
    let openWith = 'Notebook';
    if (notebookFactory instanceof NotebookWidgetFactory) {
      const factory = new NotebookWidgetFactory({
        name: READ_ONLY_FACTORY,
        label: 'Published notebook (read-only)',
        fileTypes: ['notebook'],
        modelName: 'notebook',
        preferKernel: false,
        canStartKernel: false,
        rendermime: notebookFactory.rendermime,
        contentFactory: notebookFactory.contentFactory,
        mimeTypeService: notebookFactory.mimeTypeService,
        editorConfig: notebookFactory.editorConfig,
        notebookConfig: notebookFactory.notebookConfig
      });
      factory.widgetCreated.connect((_, panel) => {
        panel.addClass('jp-scripting-read-only');
        void panel.context.ready.then(() => {
          for (const cell of panel.content.widgets) {
            cell.readOnly = true;
          }
          // It cannot be saved: never ask to save it on close.
          const model = panel.context.model;
          model.dirty = false;
          model.stateChanged.connect((_, change) => {
            if (change.name === 'dirty' && change.newValue) {
              model.dirty = false;
            }
          });
        });
      });
      documents.addWidgetFactory(factory);
      openWith = READ_ONLY_FACTORY;
    }

    const tracker = new WidgetTracker<MainAreaWidget<Widget>>({
      namespace: 'jupyter-scripting'
    });
    const openInMain = (content: RunWidget | LogsWidget): void => {
      const existing = tracker.find(w => w.content.id === content.id);
      if (existing) {
        content.dispose();
        shell.activateById(existing.id);
        if (existing.content instanceof LogsWidget) {
          void existing.content.refresh();
        }
        return;
      }
      const widget = new MainAreaWidget<Widget>({ content });
      widget.id = `${content.id}-main`;
      widget.title.label = content.title.label;
      widget.title.caption = content.title.caption;
      widget.title.icon = scriptIcon;
      widget.title.closable = true;
      void tracker.add(widget);
      shell.add(widget, 'main');
      shell.activateById(widget.id);
    };

    const actions = {
      openRun: (script: IScriptRef) => void commands.execute(CommandIDs.run, scriptArgs(script)),
      openLogs: (script: IScriptRef) => void commands.execute(CommandIDs.logs, scriptArgs(script)),
      openVersion: (script: IScript, version: number) =>
        void commands.execute(CommandIDs.openVersion, { ...scriptArgs(script), version }),
      openExecutedNotebook: (script: IScriptRef, executionId: string) =>
        void commands.execute(CommandIDs.openExecution, { ...scriptArgs(script), executionId })
    };

    const panel = new ScriptsPanel(client, actions);
    panel.title.icon = scriptIcon;
    shell.add(panel, 'left', { rank: 650 });
    restorer?.add(panel, 'jupyter-scripting-panel');

    const publish = async (notebook: NotebookPanel): Promise<void> => {
      let script: IScript | null;
      try {
        script = await publishNotebook(notebook, client);
      } catch (error) {
        await showErrorMessage('Publish failed', describe(error, 'Could not publish the notebook'));
        return;
      }
      if (!script) {
        return;
      }
      void panel.refresh();
      if (await showPublished(script, client)) {
        actions.openRun(script);
      }
    };

    commands.addCommand(CommandIDs.publish, {
      label: 'Publish as script',
      caption: 'Publish this notebook as an HTTP script (a new version if it was published before)',
      icon: scriptIcon,
      isEnabled: () => notebooks.currentWidget !== null,
      execute: async () => {
        const notebook = notebooks.currentWidget;
        if (notebook) {
          await publish(notebook);
        }
      }
    });
    commands.addCommand(CommandIDs.openPanel, {
      label: 'Show the Scripts panel',
      execute: () => {
        shell.activateById(panel.id);
        void panel.refresh();
      }
    });
    commands.addCommand(CommandIDs.run, {
      label: args => (args.name ? `Run script ${String(args.name)}` : 'Run script'),
      execute: args => openInMain(new RunWidget(client, refOf(args), actions))
    });
    commands.addCommand(CommandIDs.logs, {
      label: args => (args.name ? `Logs of script ${String(args.name)}` : 'Script logs'),
      execute: args => openInMain(new LogsWidget(client, refOf(args), actions))
    });
    const open = async (path: string): Promise<void> => {
      try {
        // Read the notebook once first: an error (404, 401…) becomes a message here.
        await docManager.services.contents.get(path);
        docManager.openOrReveal(path, openWith);
      } catch (error) {
        await showErrorMessage('Cannot open the notebook', describe(error, path));
      }
    };
    commands.addCommand(CommandIDs.openVersion, {
      label: 'Open a version of a script',
      execute: args => {
        const ref = refOf(args);
        return open(versionPath(ref.scriptId, Number(args.version), ref.name));
      }
    });
    commands.addCommand(CommandIDs.openExecution, {
      label: 'Open an executed notebook',
      execute: args => {
        const ref = refOf(args);
        return open(executionPath(ref.scriptId, String(args.executionId), ref.name));
      }
    });

    documents.addWidgetExtension('Notebook', new PublishButton(publish));

    palette?.addItem({ command: CommandIDs.publish, category: 'Scripting' });
    palette?.addItem({ command: CommandIDs.openPanel, category: 'Scripting' });
  }
};

/** The "Publish as script" button of the notebook toolbar (a notebook widget extension). */
class PublishButton {
  constructor(private readonly publish: (panel: NotebookPanel) => Promise<void>) {}

  createNew(panel: NotebookPanel): IDisposable {
    const button = new ToolbarButton({
      className: 'jp-scripting-publish-button',
      icon: scriptIcon,
      label: 'Publish as script',
      tooltip: 'Publish this notebook as an HTTP script (a new version if it was published before)',
      onClick: () => void this.publish(panel)
    });
    panel.toolbar.insertItem(10, 'publishScript', button);
    return new DisposableDelegate(() => button.dispose());
  }
}

export default plugin;
