/**
 * A read-only contents drive over the API, so that JupyterLab opens a version's notebook
 * or a run's executed notebook like any other notebook — without copying it to disk:
 *
 *   scripting:<scriptId>/v<N>/<name>.ipynb                 a version of a script
 *   scripting:<scriptId>/runs/<executionId>/<name>.ipynb   the executed notebook of a run
 */
import { Contents, ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { INotebookContent, ScriptingClient } from './api';

export const DRIVE_NAME = 'scripting';

/** Safe file names for tab titles. */
function fileName(name: string): string {
  return (name.replace(/[^\w .-]+/g, '_').trim() || 'script') + '.ipynb';
}

/** The path of a script version's notebook in this drive. */
export function versionPath(
  scriptId: string,
  version: number,
  name: string
): string {
  return `${DRIVE_NAME}:${scriptId}/v${version}/${fileName(`${name} v${version}`)}`;
}

/** The path of a run's executed notebook in this drive. */
export function executionPath(
  scriptId: string,
  executionId: string,
  name: string
): string {
  return `${DRIVE_NAME}:${scriptId}/runs/${executionId}/${fileName(
    `${name} run ${executionId.slice(0, 8)}`
  )}`;
}

const VERSION = /^([^/]+)\/v(\d+)\/[^/]+\.ipynb$/;
const EXECUTION = /^([^/]+)\/runs\/([^/]+)\/[^/]+\.ipynb$/;

function readOnly(): Promise<never> {
  return Promise.reject(
    new Error('Published scripts and their runs are read-only.')
  );
}

export class ScriptingDrive implements Contents.IDrive {
  constructor(private readonly client: ScriptingClient) {}

  readonly name = DRIVE_NAME;

  get serverSettings(): ServerConnection.ISettings {
    return this.client.serverSettings;
  }

  get fileChanged(): ISignal<this, Contents.IChangedArgs> {
    return this._fileChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    this._isDisposed = true;
    Signal.clearData(this);
  }

  async get(
    localPath: string,
    options?: Contents.IFetchOptions
  ): Promise<Contents.IModel> {
    const path = localPath.replace(/^\/+/, '');
    let load: () => Promise<INotebookContent>;
    const version = VERSION.exec(path);
    const execution = EXECUTION.exec(path);
    if (version) {
      load = () => this.client.getNotebook(version[1], Number(version[2]));
    } else if (execution) {
      load = () => this.client.getExecutionNotebook(execution[1], execution[2]);
    } else {
      throw new Error(`Not a notebook of a published script: ${localPath}`);
    }
    const content = options?.content === false ? null : await load();
    const now = new Date().toISOString();
    return {
      name: path.split('/').pop() ?? path,
      path,
      type: 'notebook',
      format: 'json',
      mimetype: 'application/x-ipynb+json',
      writable: false,
      created: now,
      last_modified: now,
      content
    };
  }

  async getDownloadUrl(localPath: string): Promise<string> {
    const path = localPath.replace(/^\/+/, '');
    const version = VERSION.exec(path);
    if (version) {
      return (
        this.client.url('script', version[1], 'notebook') +
        `?version=${version[2]}`
      );
    }
    const execution = EXECUTION.exec(path);
    if (execution) {
      return this.client.url(
        'log',
        'script',
        execution[1],
        'execution',
        execution[2],
        'notebook'
      );
    }
    throw new Error(`Not a notebook of a published script: ${localPath}`);
  }

  newUntitled(): Promise<Contents.IModel> {
    return readOnly();
  }

  delete(): Promise<void> {
    return readOnly();
  }

  rename(): Promise<Contents.IModel> {
    return readOnly();
  }

  save(): Promise<Contents.IModel> {
    return readOnly();
  }

  copy(): Promise<Contents.IModel> {
    return readOnly();
  }

  createCheckpoint(): Promise<Contents.ICheckpointModel> {
    return readOnly();
  }

  async listCheckpoints(): Promise<Contents.ICheckpointModel[]> {
    return [];
  }

  restoreCheckpoint(): Promise<void> {
    return readOnly();
  }

  deleteCheckpoint(): Promise<void> {
    return readOnly();
  }

  private _isDisposed = false;
  private _fileChanged = new Signal<this, Contents.IChangedArgs>(this);
}
