/**
 * The Scripts panel against a fake server: each script's variables (and the way to
 * set them) and retries, and the way to the Variables view; how retries and attempts
 * read (README, "Variables and secrets", "Retries").
 */
import { Widget } from '@lumino/widgets';
import { acceptDialog, waitForDialog } from '@jupyterlab/testing/lib/common';

import { IExecution, IScript, IScriptListItem } from '../api';
import { IPanelActions, ScriptsPanel, parseVariableNames } from '../panel';
import { attemptText, retriesLine, retriesText } from '../retries';

import { ISent, clientWith, json } from './fakes';
import models from './models.json';

const SCRIPT = models.script as IScript;
const CONFIGURED = models.configuredScript as IScript;
const EXECUTION = models.execution as IExecution;
const RETRIED = models.retriedExecution as IExecution;

function item(script: IScript): IScriptListItem {
  return {
    ...script,
    lastExecution: null,
    nextScheduledRun: null,
    lastDeliveries: []
  };
}

/** The path of a request below `/scripting/`. */
function route(sent: ISent): string {
  return new URL(sent.url).pathname.replace(/^.*\/scripting\//, '');
}

function panelWith(scripts: IScript[]) {
  const opened: string[] = [];
  const actions: IPanelActions = {
    openRun: () => undefined,
    openLogs: () => undefined,
    openVersion: () => undefined,
    openExecutedNotebook: () => undefined,
    openVariables: () => opened.push('variables')
  };
  const { client, sent } = clientWith(s =>
    s.method === 'PATCH'
      ? json({ ...SCRIPT, variables: JSON.parse(s.body).variables ?? [] })
      : json({ scripts: scripts.map(item), moreElements: false })
  );
  const panel = new ScriptsPanel(client, actions);
  Widget.attach(panel, document.body);
  return { panel, sent, opened };
}

function itemOf(panel: ScriptsPanel, scriptId: string): HTMLElement {
  const node = panel.node.querySelector<HTMLElement>(
    `.jp-scripting-item[data-script-id="${scriptId}"]`
  );
  if (!node) {
    throw new Error(`no item for ${scriptId}`);
  }
  return node;
}

const OTHER = { ...SCRIPT, scriptId: 'other' };

describe('ScriptsPanel', () => {
  it("shows each script's variables and retries", async () => {
    const { panel } = panelWith([CONFIGURED, OTHER]);
    await panel.refresh();
    const configured = itemOf(panel, CONFIGURED.scriptId);
    expect(
      configured.querySelector('.jp-scripting-variables-line')?.textContent
    ).toBe('Variables: API_KEY, REGION Edit');
    expect(configured.querySelector('.jp-scripting-retries')?.textContent).toBe(
      'Retries: up to 3 on 500, 502, 504, back-off 30 s'
    );
    const plain = itemOf(panel, 'other');
    expect(
      plain.querySelector('.jp-scripting-variable-names')?.textContent
    ).toBe('none');
    expect(plain.querySelector('.jp-scripting-retries')).toBeNull();
    panel.dispose();
  });

  it('opens the Variables view from its header', async () => {
    const { panel, opened } = panelWith([]);
    await panel.refresh();
    panel.node
      .querySelector<HTMLButtonElement>('.jp-scripting-open-variables')
      ?.click();
    expect(opened).toEqual(['variables']);
    panel.dispose();
  });

  it("sets a script's variables from a comma-separated list, none when empty", async () => {
    const { panel, sent } = panelWith([CONFIGURED]);
    await panel.refresh();
    const edit = () =>
      itemOf(panel, CONFIGURED.scriptId)
        .querySelector<HTMLButtonElement>('.jp-scripting-edit-variables')
        ?.click();

    edit();
    await waitForDialog();
    const field = document.querySelector<HTMLInputElement>('.jp-Dialog input');
    expect(field?.value).toBe('API_KEY, REGION');
    if (field) {
      field.value = 'API_KEY,  DB_PASSWORD REGION, API_KEY';
    }
    await acceptDialog();
    await new Promise(resolve => setTimeout(resolve, 10));
    const patches = () => sent.filter(s => s.method === 'PATCH');
    expect(patches().map(route)).toEqual([`script/${CONFIGURED.scriptId}`]);
    expect(JSON.parse(patches()[0].body)).toEqual({
      variables: ['API_KEY', 'DB_PASSWORD', 'REGION']
    });

    edit();
    await waitForDialog();
    const again = document.querySelector<HTMLInputElement>('.jp-Dialog input');
    if (again) {
      again.value = ' ';
    }
    await acceptDialog();
    await new Promise(resolve => setTimeout(resolve, 10));
    expect(JSON.parse(patches()[1].body)).toEqual({ variables: null });
    panel.dispose();
  });
});

describe('parseVariableNames', () => {
  it('splits on commas and spaces, each name once, in order', () => {
    expect(parseVariableNames('B, A,,C  B')).toEqual(['B', 'A', 'C']);
    expect(parseVariableNames('  ')).toEqual([]);
  });

  it('names what cannot be a variable name', () => {
    expect(() => parseVariableNames('OK, 2BAD, my-key')).toThrow(
      'Not variable names: "2BAD", "my-key"'
    );
  });

  it('takes at most 50', () => {
    const names = Array.from({ length: 51 }, (_, i) => `V${i}`).join(',');
    expect(() => parseVariableNames(names)).toThrow('at most 50');
  });
});

describe('retries and attempts', () => {
  it('reads a retries setting', () => {
    expect(retriesText({ max: 1, on: [503], backoff: 0.5 })).toBe(
      'up to 1 on 503, back-off 0.5 s'
    );
    expect(retriesText(null)).toBe('');
    expect(retriesLine(null)).toEqual([]);
  });

  it('says which attempt a run was, and what it retried or was retried by', () => {
    expect(attemptText(EXECUTION)).toBe('');
    expect(attemptText(RETRIED)).toBe(
      `attempt 2, retry of ${EXECUTION.executionId}; retried by ${RETRIED.retriedBy}`
    );
    expect(attemptText({ ...EXECUTION, retriedBy: RETRIED.executionId })).toBe(
      `retried by ${RETRIED.executionId}`
    );
  });
});
