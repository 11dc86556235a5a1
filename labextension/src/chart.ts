/**
 * The chart above the logs table: the executions listed, one point each, by date (x)
 * and duration (y), coloured by outcome. Plain inline SVG (no charting library); each
 * point has a `<title>` (its tooltip, read by screen readers) and the chart an
 * `aria-label` that sums it up.
 */
import { IExecution } from './api';
import { formatDate, formatDuration } from './dom';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** The drawing's size in user units (it scales to the width it is given). */
const WIDTH = 600;
const HEIGHT = 120;
const MARGIN = { top: 10, right: 12, bottom: 20, left: 56 };

/** What an execution came to, for its colour. */
export type Outcome = 'ok' | 'client' | 'server' | 'pending';

/** `finished` with a 2xx/3xx is ok; a 4xx is the caller's; 5xx or `failed` the script's. */
export function outcomeOf(execution: IExecution): Outcome {
  const { state, statusCode } = execution;
  if (state === 'queued' || state === 'running') {
    return 'pending';
  }
  if (state === 'failed' || statusCode === null || statusCode >= 500) {
    return 'server';
  }
  return statusCode >= 400 ? 'client' : 'ok';
}

const OUTCOME_LABELS: { [outcome in Outcome]: string } = {
  ok: 'succeeded',
  client: 'refused (4xx)',
  server: 'failed',
  pending: 'not finished'
};

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: { [name: string]: string | number } = {},
  ...children: (Node | string)[]
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, String(value));
  }
  element.append(...children);
  return element;
}

/** The tooltip of one point. */
export function pointTitle(execution: IExecution): string {
  const status =
    execution.statusCode === null
      ? execution.state
      : `${execution.statusCode} (${execution.state})`;
  const duration =
    execution.durationMs === null
      ? 'no duration yet'
      : formatDuration(execution.durationMs);
  return `${formatDate(execution.executionDate)}: ${status}, ${duration}, ${execution.mode}`;
}

/**
 * The chart of `executions` (any order). A point is a `circle` with the execution's id
 * in `data-execution-id`; one without a duration (not finished) sits on the x axis.
 * `onSelect` hears a click on a point.
 */
export function renderRunsChart(
  executions: IExecution[],
  onSelect?: (execution: IExecution) => void
): SVGSVGElement {
  const dated = executions
    .map(execution => ({
      execution,
      time: new Date(execution.executionDate).getTime()
    }))
    .filter(point => !isNaN(point.time))
    .sort((a, b) => a.time - b.time);
  const counts: { [outcome in Outcome]: number } = {
    ok: 0,
    client: 0,
    server: 0,
    pending: 0
  };
  for (const { execution } of dated) {
    counts[outcomeOf(execution)] += 1;
  }
  const summary = (Object.keys(counts) as Outcome[])
    .filter(outcome => counts[outcome])
    .map(outcome => `${counts[outcome]} ${OUTCOME_LABELS[outcome]}`)
    .join(', ');
  const label = dated.length
    ? `Duration of the ${dated.length} executions listed, by date: ${summary}.`
    : 'No executions to chart.';
  const chart = svg(
    'svg',
    {
      class: 'jp-scripting-chart',
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      preserveAspectRatio: 'xMinYMin meet',
      role: 'img',
      'aria-label': label
    },
    svg('title', {}, label)
  );
  if (!dated.length) {
    return chart;
  }

  const left = MARGIN.left;
  const right = WIDTH - MARGIN.right;
  const top = MARGIN.top;
  const bottom = HEIGHT - MARGIN.bottom;
  const first = dated[0].time;
  const last = dated[dated.length - 1].time;
  const maxMs = Math.max(
    1,
    ...dated.map(({ execution }) => execution.durationMs ?? 0)
  );
  const x = (time: number) =>
    last === first
      ? (left + right) / 2
      : left + ((time - first) / (last - first)) * (right - left);
  const y = (ms: number) => bottom - (ms / maxMs) * (bottom - top);

  chart.append(
    svg('line', {
      class: 'jp-scripting-chart-axis',
      x1: left,
      y1: bottom,
      x2: right,
      y2: bottom
    }),
    svg('line', {
      class: 'jp-scripting-chart-axis',
      x1: left,
      y1: top,
      x2: left,
      y2: bottom
    }),
    svg(
      'text',
      {
        class: 'jp-scripting-chart-label',
        x: left - 4,
        y: top + 4,
        'text-anchor': 'end'
      },
      formatDuration(maxMs)
    ),
    svg(
      'text',
      {
        class: 'jp-scripting-chart-label',
        x: left - 4,
        y: bottom,
        'text-anchor': 'end'
      },
      '0'
    ),
    svg(
      'text',
      {
        class: 'jp-scripting-chart-label',
        x: left,
        y: HEIGHT - 4,
        'text-anchor': 'start'
      },
      formatDate(dated[0].execution.executionDate)
    )
  );
  if (last !== first) {
    chart.append(
      svg(
        'text',
        {
          class: 'jp-scripting-chart-label',
          x: right,
          y: HEIGHT - 4,
          'text-anchor': 'end'
        },
        formatDate(dated[dated.length - 1].execution.executionDate)
      )
    );
  }
  for (const { execution, time } of dated) {
    const outcome = outcomeOf(execution);
    const point = svg(
      'circle',
      {
        class: `jp-scripting-chart-point jp-scripting-chart-${outcome}`,
        cx: x(time).toFixed(1),
        cy: y(execution.durationMs ?? 0).toFixed(1),
        r: 4,
        'data-execution-id': execution.executionId
      },
      svg('title', {}, pointTitle(execution))
    );
    if (onSelect) {
      point.addEventListener('click', () => onSelect(execution));
    }
    chart.append(point);
  }
  return chart;
}
