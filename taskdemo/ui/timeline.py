"""The run's timeline (a Gantt chart, with ui.echart): one row per task, one bar per attempt from its start to its
end (or to now while it runs), coloured by outcome, with the outcomes named in the legend. Where a task stood still
long enough to count as stalled, that part of its bar is drawn over, hatched (timeline_stalls.py).

It is drawn only while its panel is open, and refreshed at most once a second (every N/1,000 seconds for N
tasks), since each refresh sends every bar: about 20 bytes a bar.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from nicegui import events, ui

from ..model import Task, TaskStatus
from ..view import RunView
from .states import WORDS
from .timeline_stalls import DECAL, STALL_COLOURS, STALLED, STALLED_NAME, stall_bars

ROWS_SHOWN = 60  # rows on screen at first (5 px each); at 1,000 tasks all of them would be a third of a pixel
EARLIER = 'earlier'  # the series of earlier (failed) attempts of retried tasks
SERIES = [  # (key, legend name, colour on light, colour on dark): the board's card colours, lighter on dark
    (TaskStatus.RUNNING.value, WORDS[TaskStatus.RUNNING], '#4b5563', '#9ca3af'),
    (TaskStatus.COMPLETED.value, WORDS[TaskStatus.COMPLETED], '#15803d', '#22c55e'),
    (TaskStatus.FAILED.value, WORDS[TaskStatus.FAILED], '#b91c1c', '#ef4444'),
    (TaskStatus.CANCELLED.value, WORDS[TaskStatus.CANCELLED], '#d97706', '#f59e0b'),
    (TaskStatus.INTERRUPTED.value, WORDS[TaskStatus.INTERRUPTED], '#7c3aed', '#a78bfa'),
    (EARLIER, 'Failed earlier attempt', '#f87171', '#fca5a5'),
    (STALLED, STALLED_NAME, *STALL_COLOURS),  # last: drawn over the bars it is part of
]
# (light, dark): text at 4.5:1 or more on the page (white; Quasar's dark page #121212), gridlines dimmer than bars
TEXT = ('#374151', '#d1d5db')
AXIS = ('#9ca3af', '#6b7280')
GRIDLINE = ('#e5e7eb', '#2d323b')
SLIDER = ('#d1d5db', '#4b5563')
DARK = "document.body.classList.contains('body--dark')"  # Quasar's class for the dark scheme, system or chosen
# a bar: x from start to end, on the task's row, 70 % of a row high
RENDER_BAR = '''(params, api) => {
  const start = api.coord([api.value(1), api.value(0)]);
  const end = api.coord([api.value(2), api.value(0)]);
  const height = Math.max(1, api.size([0, 1])[1] * 0.7);
  return {type: 'rect', shape: {x: start[0], y: start[1] - height / 2, width: Math.max(1, end[0] - start[0]),
          height: height}, style: api.style()};
}'''
# a stall: the same bar, hatched (a custom series draws a decal only when its element's style names one; the one
# pattern object is made once, and ECharts keeps the image it draws from it)
RENDER_STALL = f'''((decal) => (params, api) => {{
  const bar = ({RENDER_BAR})(params, api);
  bar.style = Object.assign(bar.style, {{decal: decal}});
  return bar;
}})({json.dumps(DECAL)})'''
# rows are whole; the axis ends are not
WHOLE_NUMBERS = "(value) => Number.isInteger(value) ? value.toLocaleString('en-US') : ''"
# the zoom slider and the mouse wheel report the window in percent of the rows: the first of their batch will do
ZOOMED = '(event) => { const range = event.batch ? event.batch[0] : event; emit(range.start, range.end); }'
TOOLTIP = '''(item) => `Task ${item.value[0].toLocaleString('en-US')} · ${item.seriesName}<br>` +
  `${item.value[1].toFixed(1)} s to ${item.value[2].toFixed(1)} s (${(item.value[2] - item.value[1]).toFixed(1)} s)`'''


def timeline_bars(sim: RunView) -> dict[str, list[list[float]]]:
    """Every bar of the run by series: [task id, start s, end s], in real seconds since the run started."""
    run = sim.run
    return bars_of(sim.tasks, run.elapsed_s if run else 0.0, run.settings.speed if run else 1.0)


def bars_of(tasks: list[Task], now: float, speed: float) -> dict[str, list[list[float]]]:
    """The bars of these tasks by series, `now` being the end of those still running (the stall segments need the
    run's speed: a stall is so many simulated seconds)."""
    bars: dict[str, list[list[float]]] = {key: [] for key, *_ in SERIES}
    for task in tasks:
        for attempt in task.earlier:
            if attempt.started_s is not None:
                bars[EARLIER].append(_bar(task.id, attempt.started_s, attempt.finished_s, now))
        if task.started_s is not None and task.status != TaskStatus.PENDING:
            bars[task.status.value].append(_bar(task.id, task.started_s, task.finished_s, now))
    bars[STALLED] = stall_bars(tasks, now, speed)
    return bars


def _bar(task_id: int, start: float, end: float | None, now: float) -> list[float]:
    return [task_id, round(start, 2), round(end if end is not None else now, 2)]


def zoom_window(total: int) -> dict[str, float]:
    """Many tasks: start on the first ROWS_SHOWN rows, readable, and let the slider move through the rest."""
    return {'startValue': -0.5, 'endValue': min(total, ROWS_SHOWN) - 0.5}


def refresh_interval_s(total: int) -> float:
    return max(1.0, total / 1000)


def legend_names(bars: dict[str, list[list[float]]]) -> list[str]:
    """The outcomes the chart has bars of, in the order of SERIES: no "Interrupted" in a run that was not."""
    return [name for key, name, *_ in SERIES if bars[key]]


def rows_text(start_value: float, end_value: float, total: int) -> str:
    """Which rows the zoom window shows, counted from 1: rows 1-60 of 1,000 (a row shows when its middle does)."""
    if total <= 0:
        return ''
    first = min(total - 1, max(0, math.ceil(start_value)))
    last = max(first, min(total - 1, math.floor(end_value)))
    if first == 0 and last == total - 1:
        return f'all {total:,} rows' if total > 1 else '1 row'
    if first == last:
        return f'row {first + 1:,} of {total:,}'
    return f'rows {first + 1:,}-{last + 1:,} of {total:,}'


def colour_options(pick: Callable[[str, str, str], dict[str, str]]) -> dict[str, Any]:
    """The chart's colours, each one `pick(light, dark, name)`: the same shape serves the first draw (which picks in
    the browser) and a repaint when the scheme changes."""
    axis = {'nameTextStyle': pick(*TEXT, 'color'), 'axisLabel': pick(*TEXT, 'color'),
            'axisLine': {'lineStyle': pick(*AXIS, 'color')}, 'axisTick': {'lineStyle': pick(*AXIS, 'color')},
            'splitLine': {'lineStyle': pick(*GRIDLINE, 'color')}}
    return {
        'legend': {'textStyle': pick(*TEXT, 'color')},
        'xAxis': axis,
        'yAxis': axis,
        'dataZoom': [pick(*SLIDER, 'borderColor'), {}],
        'series': [{'id': key, 'itemStyle': pick(light, dark, 'color')} for key, _, light, dark in SERIES],
    }


def in_browser(light: str, dark: str, name: str) -> dict[str, str]:
    """A colour the browser picks when it draws (NiceGUI evaluates an option whose name starts with ':')."""
    return {f':{name}': f"{DARK} ? '{dark}' : '{light}'"}


def repaint_script() -> str:
    """A page's script that repaints its timelines when the scheme changes (the system's, or the viewer's choice)."""
    schemes = {scheme: colour_options(lambda light, dark, name, index=index: {name: (light, dark)[index]})
               for index, scheme in enumerate(('light', 'dark'))}
    return f'''<script>
(() => {{
  const schemes = {json.dumps(schemes)};
  let shown = null;
  new MutationObserver(() => {{
    const scheme = {DARK} ? 'dark' : 'light';
    if (scheme === shown) return;
    shown = scheme;
    for (const element of document.querySelectorAll('.timeline-chart')) {{
      getElement(element.id.slice(1))?.chart?.setOption(schemes[scheme]);
    }}
  }}).observe(document.body, {{attributes: true, attributeFilter: ['class']}});
}})();
</script>'''


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`base` with `extra` laid over it: dictionaries merged by key, lists item by item."""
    result = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = [merged(old, new) for old, new in zip(result[key], value, strict=True)]
        else:
            result[key] = value
    return result


class Timeline:
    def __init__(self, sim: RunView) -> None:
        self._sim = sim
        self._drawn_version = -1
        self._drawn_total = 0
        self._drawn_legend: list[str] = []
        with ui.expansion('Timeline', icon='view_timeline', on_value_change=lambda _: self.refresh()) \
                .classes('w-full').mark('timeline-panel') as self.panel:
            with ui.row().classes('w-full items-baseline justify-between gap-x-4 gap-y-1'):
                ui.label('One row per task, one bar per attempt, from its start to its end (or now); seconds since '
                         'the run started. A striped part: the task stood still (stalled). Scroll or drag the '
                         'slider on the right to zoom.').classes('text-sm')
                self.rows = ui.label().classes('timeline-rows text-sm font-medium').mark('timeline-rows')
        self.chart: ui.echart | None = None  # made when the panel first opens: ECharts is not loaded before
        ui.add_body_html(repaint_script())
        self._timer = ui.timer(refresh_interval_s(sim.total), self.refresh)

    def refresh(self) -> None:
        """Draw the bars of this moment, if the panel is open and anything changed since they were drawn.

        Only the bars travel (ECharts merges them into the chart by series id), so a zoom the viewer chose stays
        where it is; the zoom goes back to the first rows only when the number of tasks changes.
        """
        sim = self._sim
        self._timer.interval = refresh_interval_s(sim.total)
        if not self.panel.value or self._drawn_version == sim.version:
            return
        self._drawn_version = sim.version
        bars = timeline_bars(sim)
        legend = legend_names(bars)
        if self.chart is None:
            self._drawn_total, self._drawn_legend = sim.total, legend
            with self.panel:
                self.chart = ui.echart(chart_options(bars, legend, sim.total), renderer='canvas') \
                    .classes('timeline-chart w-full h-96').mark('timeline')
            self.chart.on('chart:datazoom', self._zoomed, js_handler=ZOOMED, throttle=0.1)
            self._show_rows(zoom_window(sim.total))
            return
        patch: dict[str, Any] = {'series': [{'id': key, 'data': bars[key]} for key, *_ in SERIES],
                                 'yAxis': {'max': max(0, sim.total - 0.5)}}
        if legend != self._drawn_legend:
            self._drawn_legend = legend
            patch['legend'] = {'data': legend}
            self.chart.options['legend']['data'] = legend
        if sim.total != self._drawn_total:
            self._drawn_total = sim.total
            patch['dataZoom'] = [zoom_window(sim.total)] * 2
            self._show_rows(zoom_window(sim.total))
        for series in self.chart.options['series']:  # the element's own copy, for a page built again
            series['data'] = bars[series['id']]
        self.chart.options['yAxis'].update(patch['yAxis'])
        self.chart.run_chart_method('setOption', patch)

    def _zoomed(self, event: events.GenericEventArguments) -> None:
        """The viewer moved the zoom: its window in percent of the axis, which runs from -0.5 to total - 0.5."""
        start, end = event.args
        total = self._drawn_total
        self._show_rows({'startValue': -0.5 + start / 100 * total, 'endValue': -0.5 + end / 100 * total})

    def _show_rows(self, window: dict[str, float]) -> None:
        self.rows.text = rows_text(window['startValue'], window['endValue'], self._drawn_total)


def chart_options(bars: dict[str, list[list[float]]], legend: list[str], total: int) -> dict[str, Any]:
    """The whole chart for `total` tasks: axes, zoom, legend, tooltip, one series per outcome, and the stalls."""
    window = zoom_window(total)
    options = {
        'animation': False,
        'grid': {'left': 56, 'right': 56, 'top': 36, 'bottom': 48},
        'legend': {'top': 0, 'data': legend},
        'tooltip': {'trigger': 'item', ':formatter': TOOLTIP},
        'xAxis': {'type': 'value', 'name': 'seconds since the run started', 'nameLocation': 'middle',
                  'nameGap': 26, 'min': 0, 'splitLine': {'show': True}},
        'yAxis': {'type': 'value', 'name': 'task', 'nameLocation': 'middle', 'nameGap': 40, 'inverse': True,
                  'min': -0.5, 'max': max(0, total - 0.5), 'minInterval': 1,
                  'splitLine': {'show': False}, 'axisLabel': {':formatter': WHOLE_NUMBERS}},
        'dataZoom': [{'type': 'slider', 'yAxisIndex': 0, 'right': 8, 'width': 16, 'filterMode': 'none',
                      'showDetail': False, **window},
                     {'type': 'inside', 'yAxisIndex': 0, 'filterMode': 'none', **window}],
        'series': [{'type': 'custom', 'name': name, 'id': key, ':renderItem': RENDER_BAR, 'clip': True,
                    'encode': {'x': [1, 2], 'y': 0}, 'data': bars[key], **SERIES_EXTRA.get(key, {})}
                   for key, name, *_ in SERIES],
    }
    return merged(options, colour_options(in_browser))


def past_timeline(tasks: list[Task], now: float, speed: float) -> ui.echart:
    """The timeline of a run that is over (History): drawn once, as it ended."""
    bars = bars_of(tasks, now, speed)
    return ui.echart(chart_options(bars, legend_names(bars), len(tasks)), renderer='canvas') \
        .classes('timeline-chart w-full h-96')


# the stall segments: hatched on the chart and in the legend's swatch, over the bars
SERIES_EXTRA = {STALLED: {':renderItem': RENDER_STALL, 'itemStyle': {'decal': DECAL}, 'z': 3}}
