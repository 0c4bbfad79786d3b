"""The run's timeline (a Gantt chart, with ui.echart): one row per task, one bar per attempt from its start to its
end (or to now while it runs), coloured by outcome, with the outcomes named in the legend.

It is drawn only while its panel is open, and refreshed at most once a second (every N/1,000 seconds for N
tasks), since each refresh sends every bar: about 20 bytes a bar.
"""
from __future__ import annotations

from typing import Any

from nicegui import ui

from ..simulator import Simulator, TaskStatus
from .states import WORDS

ROWS_SHOWN = 60  # rows on screen at first (5 px each); at 1,000 tasks all of them would be a third of a pixel
EARLIER = 'earlier'  # the series of earlier (failed) attempts of retried tasks
SERIES = [  # (key, legend name, colour): the board's card colours
    (TaskStatus.RUNNING.value, WORDS[TaskStatus.RUNNING], '#4b5563'),
    (TaskStatus.COMPLETED.value, WORDS[TaskStatus.COMPLETED], '#15803d'),
    (TaskStatus.FAILED.value, WORDS[TaskStatus.FAILED], '#b91c1c'),
    (TaskStatus.CANCELLED.value, WORDS[TaskStatus.CANCELLED], '#d97706'),
    (TaskStatus.INTERRUPTED.value, WORDS[TaskStatus.INTERRUPTED], '#7c3aed'),
    (EARLIER, 'Failed earlier attempt', '#f87171'),
]
# a bar: x from start to end, on the task's row, 70 % of a row high
RENDER_BAR = '''(params, api) => {
  const start = api.coord([api.value(1), api.value(0)]);
  const end = api.coord([api.value(2), api.value(0)]);
  const height = Math.max(1, api.size([0, 1])[1] * 0.7);
  return {type: 'rect', shape: {x: start[0], y: start[1] - height / 2, width: Math.max(1, end[0] - start[0]),
          height: height}, style: api.style()};
}'''
WHOLE_NUMBERS = "(value) => Number.isInteger(value) ? String(value) : ''"  # rows are whole; the axis ends are not
TOOLTIP = '''(item) => `Task ${item.value[0]} · ${item.seriesName}<br>` +
  `${item.value[1].toFixed(1)} s to ${item.value[2].toFixed(1)} s (${(item.value[2] - item.value[1]).toFixed(1)} s)`'''


def timeline_bars(sim: Simulator) -> dict[str, list[list[float]]]:
    """Every bar of the run by series: [task id, start s, end s], in real seconds since the run started."""
    now = sim.run.elapsed_s if sim.run else 0.0
    bars: dict[str, list[list[float]]] = {key: [] for key, _, _ in SERIES}
    for task in sim.tasks:
        for attempt in task.earlier:
            if attempt.started_s is not None:
                bars[EARLIER].append(_bar(task.id, attempt.started_s, attempt.finished_s, now))
        if task.started_s is not None and task.status != TaskStatus.PENDING:
            bars[task.status.value].append(_bar(task.id, task.started_s, task.finished_s, now))
    return bars


def _bar(task_id: int, start: float, end: float | None, now: float) -> list[float]:
    return [task_id, round(start, 2), round(end if end is not None else now, 2)]


def zoom_window(total: int) -> dict[str, float]:
    """Many tasks: start on the first ROWS_SHOWN rows, readable, and let the slider move through the rest."""
    return {'startValue': -0.5, 'endValue': min(total, ROWS_SHOWN) - 0.5}


def refresh_interval_s(total: int) -> float:
    return max(1.0, total / 1000)


class Timeline:
    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self._drawn_version = -1
        self._drawn_total = 0
        with ui.expansion('Timeline', icon='view_timeline', on_value_change=lambda _: self.refresh()) \
                .classes('w-full').props('dense header-class="text-base font-semibold"').mark('timeline-panel') \
                as self.panel:
            ui.label('One row per task, one bar per attempt, from its start to its end (or now); seconds since the '
                     'run started. Scroll or drag the slider on the right to zoom.').classes('text-sm')
        self.chart: ui.echart | None = None  # made when the panel first opens: ECharts is not loaded before
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
        if self.chart is None:
            self._drawn_total = sim.total
            with self.panel:
                self.chart = ui.echart(self._options(bars), renderer='canvas') \
                    .classes('timeline-chart w-full h-96').mark('timeline')
            return
        patch: dict[str, Any] = {'series': [{'id': key, 'data': bars[key]} for key, _, _ in SERIES],
                                 'yAxis': {'max': max(0, sim.total - 0.5)}}
        if sim.total != self._drawn_total:
            self._drawn_total = sim.total
            patch['dataZoom'] = [zoom_window(sim.total)] * 2
        for series in self.chart.options['series']:  # the element's own copy, for a page built again
            series['data'] = bars[series['id']]
        self.chart.options['yAxis'].update(patch['yAxis'])
        self.chart.run_chart_method('setOption', patch)

    def _options(self, bars: dict[str, list[list[float]]]) -> dict[str, Any]:
        window = zoom_window(self._sim.total)
        return {
            'animation': False,
            'grid': {'left': 56, 'right': 56, 'top': 36, 'bottom': 48},
            'legend': {'top': 0, 'textStyle': {'color': '#6b7280'}},
            'tooltip': {'trigger': 'item', ':formatter': TOOLTIP},
            'xAxis': {'type': 'value', 'name': 'seconds since the run started', 'nameLocation': 'middle',
                      'nameGap': 26, 'min': 0, 'splitLine': {'show': True}},
            'yAxis': {'type': 'value', 'name': 'task', 'nameLocation': 'middle', 'nameGap': 34, 'inverse': True,
                      'min': -0.5, 'max': max(0, self._sim.total - 0.5), 'minInterval': 1,
                      'splitLine': {'show': False}, 'axisLabel': {':formatter': WHOLE_NUMBERS}},
            'dataZoom': [{'type': 'slider', 'yAxisIndex': 0, 'right': 8, 'width': 16, 'filterMode': 'none', **window},
                         {'type': 'inside', 'yAxisIndex': 0, 'filterMode': 'none', **window}],
            'series': [{'type': 'custom', 'name': name, 'id': key, ':renderItem': RENDER_BAR, 'clip': True,
                        'itemStyle': {'color': color}, 'encode': {'x': [1, 2], 'y': 0}, 'data': bars[key]}
                       for key, name, color in SERIES],
        }

