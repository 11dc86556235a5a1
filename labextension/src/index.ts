/**
 * jupyter_scripting in JupyterLab: publish the open notebook as an HTTP script, run it
 * from a dialog, and read its logs and executed notebooks — plugins and commands only;
 * the widgets live in their own modules (README, "In JupyterLab"). The Run and Logs tabs
 * are restored on reload: one tracker per kind, each reopened by its command.
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
import type { CommandRegistry } from '@lumino/commands';
import type { Widget } from '@lumino/widgets';

// The client, the drive and the Scripts panel are registered at activation; the rest
// (publishing, the Run and Logs tabs) is loaded when it is first used.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { IScript, ScriptingClient, describe } from './api';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { ScriptingDrive, executionPath, versionPath } from './drive';
import type { LogsWidget } from './logs';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { ScriptsPanel } from './panel';
import type { IScriptRef, RunWidget } from './run';
import type { VariablesWidget } from './variables';

namespace CommandIDs {
  export const publish = 'jupyter-scripting:publish';
  export const openPanel = 'jupyter-scripting:open-panel';
  export const run = 'jupyter-scripting:run';
  export const logs = 'jupyter-scripting:logs';
  export const openVersion = 'jupyter-scripting:open-version';
  export const openExecution = 'jupyter-scripting:open-execution';
  export const openVariables = 'jupyter-scripting:open-variables';
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

/** The script a command is for; throws when its arguments name none. */
function refOf(args: { readonly [key: string]: unknown }): IScriptRef {
  const { scriptId, name } = args;
  if (typeof scriptId !== 'string' || !scriptId) {
    throw new Error('The command needs the id of a script (scriptId).');
  }
  return { scriptId, name: typeof name === 'string' && name ? name : scriptId };
}

/** The arguments of the commands that open something of one script. */
function scriptSchema(properties: {
  [name: string]: { type: string; description: string };
}): Partial<CommandRegistry.Description> {
  return {
    args: {
      type: 'object',
      properties: {
        scriptId: { type: 'string', description: 'The id of the script' },
        name: {
          type: 'string',
          description:
            "The script's name (the tab's title until the server's is read)"
        },
        ...properties
      },
      required: ['scriptId', ...Object.keys(properties)]
    }
  };
}

const NO_ARGS: Partial<CommandRegistry.Description> = {
  args: { type: 'object', properties: {} }
};

/** What the Run and Logs tabs' contents have in common: the script they are for. */
type ScriptView = Widget & { readonly script: IScriptRef };

/** The tabs of one kind (Run or Logs), one per script. */
type TabTracker<T extends ScriptView> = WidgetTracker<MainAreaWidget<T>>;

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-scripting:plugin',
  description:
    'Publish notebooks as HTTP scripts, run them and read their logs.',
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

    // One tracker per kind of tab. Each remembers its tabs' scripts in the state
    // database, and on reload the restorer runs the kind's command for each of them.
    const runTabs: TabTracker<RunWidget> = new WidgetTracker({
      namespace: 'jupyter-scripting-run'
    });
    const logsTabs: TabTracker<LogsWidget> = new WidgetTracker({
      namespace: 'jupyter-scripting-logs'
    });
    // The Variables tab (one, the tenant's) comes back on reload too.
    const variablesTabs = new WidgetTracker<MainAreaWidget<VariablesWidget>>({
      namespace: 'jupyter-scripting-variables'
    });
    if (restorer) {
      void restorer.restore(variablesTabs, {
        command: CommandIDs.openVariables,
        name: () => 'variables'
      });
      void restorer.restore(runTabs, {
        command: CommandIDs.run,
        args: widget => scriptArgs(widget.content.script),
        name: widget => widget.content.script.scriptId
      });
      void restorer.restore(logsTabs, {
        command: CommandIDs.logs,
        args: widget => scriptArgs(widget.content.script),
        name: widget => widget.content.script.scriptId
      });
    }

    /**
     * Show the tab of `tabs` for the script: the open one (passed to `reveal`), else a
     * new one with the content that `load` makes.
     */
    const openTab = async <T extends ScriptView>(
      tabs: TabTracker<T>,
      script: IScriptRef,
      load: () => Promise<(script: IScriptRef) => T>,
      reveal?: (content: T) => void
    ): Promise<void> => {
      const make = await load();
      const open = tabs.find(
        w => w.content.script.scriptId === script.scriptId
      );
      if (open) {
        shell.activateById(open.id);
        reveal?.(open.content);
        return;
      }
      const content = make(script);
      const widget = new MainAreaWidget<T>({ content });
      widget.id = `${content.id}-main`;
      widget.title.icon = scriptIcon;
      const saved = tabs.add(widget);
      // The title follows the script's name on the server: so does what is restored.
      content.title.changed.connect(() => void tabs.save(widget), widget);
      shell.add(widget, 'main');
      shell.activateById(widget.id);
      await saved;
    };

    const actions = {
      openRun: (script: IScriptRef) =>
        void commands.execute(CommandIDs.run, scriptArgs(script)),
      openLogs: (script: IScriptRef) =>
        void commands.execute(CommandIDs.logs, scriptArgs(script)),
      openVersion: (script: IScript, version: number) =>
        void commands.execute(CommandIDs.openVersion, {
          ...scriptArgs(script),
          version
        }),
      openExecutedNotebook: (script: IScriptRef, executionId: string) =>
        void commands.execute(CommandIDs.openExecution, {
          ...scriptArgs(script),
          executionId
        }),
      openVariables: () => void commands.execute(CommandIDs.openVariables)
    };

    const panel = new ScriptsPanel(client, actions);
    panel.title.icon = scriptIcon;
    shell.add(panel, 'left', { rank: 650 });
    restorer?.add(panel, 'jupyter-scripting-panel');

    const publish = async (notebook: NotebookPanel): Promise<void> => {
      const { publishNotebook, showPublished } = await import('./publish');
      let script: IScript | null;
      try {
        script = await publishNotebook(notebook, client);
      } catch (error) {
        await showErrorMessage(
          'Publish failed',
          describe(error, 'Could not publish the notebook')
        );
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
      describedBy: NO_ARGS,
      caption:
        'Publish this notebook as an HTTP script (a new version if it was published before)',
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
      describedBy: NO_ARGS,
      execute: () => {
        shell.activateById(panel.id);
        void panel.refresh();
      }
    });
    commands.addCommand(CommandIDs.run, {
      label: args =>
        args.name ? `Run script ${String(args.name)}` : 'Run script',
      caption: 'Open the run dialog of a script (its tab, if it is open)',
      describedBy: scriptSchema({}),
      execute: args =>
        openTab(runTabs, refOf(args), async () => {
          const { RunWidget } = await import('./run');
          return script => new RunWidget(client, script, actions);
        })
    });
    commands.addCommand(CommandIDs.logs, {
      label: args =>
        args.name ? `Logs of script ${String(args.name)}` : 'Script logs',
      caption: 'Open the execution log of a script (reloaded, if it is open)',
      describedBy: scriptSchema({}),
      execute: args =>
        openTab(
          logsTabs,
          refOf(args),
          async () => {
            const { LogsWidget } = await import('./logs');
            return script => new LogsWidget(client, script, actions);
          },
          content => void content.refresh()
        )
    });
    commands.addCommand(CommandIDs.openVariables, {
      label: 'Variables…',
      caption:
        "The tenant's variables and secrets, which scripts' runs get by name",
      describedBy: NO_ARGS,
      execute: async () => {
        const open = variablesTabs.find(() => true);
        if (open) {
          shell.activateById(open.id);
          await open.content.refresh();
          return;
        }
        const { VariablesWidget } = await import('./variables');
        const content = new VariablesWidget(client);
        const widget = new MainAreaWidget({ content });
        widget.id = `${content.id}-main`;
        widget.title.icon = scriptIcon;
        const saved = variablesTabs.add(widget);
        shell.add(widget, 'main');
        shell.activateById(widget.id);
        await saved;
      }
    });
    const open = async (path: string): Promise<void> => {
      try {
        // Read the notebook once first: an error (404, 401…) becomes a message here.
        await docManager.services.contents.get(path);
        docManager.openOrReveal(path, openWith);
      } catch (error) {
        await showErrorMessage(
          'Cannot open the notebook',
          describe(error, path)
        );
      }
    };
    commands.addCommand(CommandIDs.openVersion, {
      label: 'Open a version of a script',
      describedBy: scriptSchema({
        version: {
          type: 'integer',
          description: 'The version (1 is the first)'
        }
      }),
      execute: args => {
        const ref = refOf(args);
        return open(versionPath(ref.scriptId, Number(args.version), ref.name));
      }
    });
    commands.addCommand(CommandIDs.openExecution, {
      label: 'Open an executed notebook',
      describedBy: scriptSchema({
        executionId: { type: 'string', description: 'The id of the run' }
      }),
      execute: args => {
        const ref = refOf(args);
        return open(
          executionPath(ref.scriptId, String(args.executionId), ref.name)
        );
      }
    });

    documents.addWidgetExtension('Notebook', new PublishButton(publish));

    palette?.addItem({ command: CommandIDs.publish, category: 'Scripting' });
    palette?.addItem({ command: CommandIDs.openPanel, category: 'Scripting' });
    palette?.addItem({
      command: CommandIDs.openVariables,
      category: 'Scripting'
    });
  }
};

/** The "Publish as script" button of the notebook toolbar (a notebook widget extension). */
class PublishButton {
  constructor(
    private readonly publish: (panel: NotebookPanel) => Promise<void>
  ) {}

  createNew(panel: NotebookPanel): IDisposable {
    const button = new ToolbarButton({
      className: 'jp-scripting-publish-button',
      icon: scriptIcon,
      label: 'Publish as script',
      tooltip:
        'Publish this notebook as an HTTP script (a new version if it was published before)',
      onClick: () => void this.publish(panel)
    });
    panel.toolbar.insertItem(10, 'publishScript', button);
    return new DisposableDelegate(() => button.dispose());
  }
}

export default plugin;
