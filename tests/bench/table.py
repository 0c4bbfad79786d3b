"""The one table the benchmark prints: a row per figure, a column per task count, each figure with its ratio to the
seed-style `/ws` stream measured at the same N (REF = one client of `/ws` full with the smallest K)."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Row = tuple[str, str, Callable[[dict[str, Any]], tuple[str, float | None]]]
NA = 'n/a'


def keep(path: str, figures: dict[str, Any]) -> None:
    """Write `figures` (one entry per benchmark: {"scrub": {...}}) into the JSON at `path`, keeping what the others
    wrote there."""
    written = Path(path)
    kept = json.loads(written.read_text()) if written.exists() else {}
    written.write_text(json.dumps({**kept, **figures}, indent=1))


def size(value: float | None) -> str:
    if value is None:
        return NA
    for unit, scale in (('MB', 1e6), ('KB', 1e3)):
        if value >= scale:
            return f'{value / scale:.1f} {unit}'
    return f'{value:.0f} B'


def ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference:
        return None
    return value / reference


def fresh(figures: dict[str, Any] | None) -> str:
    if not figures or not figures.get('samples'):
        return f'{NA} (no samples)'
    return f'{figures["p50_ms"]:.0f} / {figures["p95_ms"]:.0f} / {figures["max_ms"]:.0f} (n={figures["samples"]})'


def ws(result: dict[str, Any], mode: str, count: int) -> dict[str, Any] | None:
    return result.get('ws', {}).get(f'{mode}x{count}')


def ref(result: dict[str, Any]) -> dict[str, Any] | None:
    return result.get('ws', {}).get(result.get('ref_key', ''))


def per_viewer_cpu(result: dict[str, Any], stream: dict[str, Any] | None) -> float | None:
    base = result.get('baseline', {}).get('server_cpu_pct')
    if not stream or base is None:
        return None
    return (stream['cpu_pct']['server'] - base) / stream['viewers']


def ws_rows(mode: str, count: int) -> list[Row]:
    name = f'/ws{"?mode=changes" if mode == "changes" else " (full)"} x{count}'
    full_same_k = f'/ws full x{count}'

    def bytes_row(r):
        s = ws(r, mode, count)
        return (size(s['bytes_per_client_s']) + '/s', ratio(s['bytes_per_client_s'],
                                                            ref(r)['bytes_per_client_s'])) if s else (NA, None)

    def cpu_row(r):
        s, full = ws(r, mode, count), ws(r, 'full', count)
        return (f'{s["cpu_pct"]["server"]:.1f} %', ratio(s['cpu_pct']['server'], full['cpu_pct']['server'])
                if full else None) if s else (NA, None)

    def kept_row(r):
        s = ws(r, mode, count)
        if not s:
            return NA, None
        return (f'{s["kept_up"]}/{count} (frames >= {s["frames_needed"]}: min {s["min_frames"]}, '
                f'max gap {s["max_gap_s"]:.2f} s)', None)

    def fresh_row(r):
        s = ws(r, mode, count)
        return (fresh(s['freshness']), ratio(s['freshness']['p50_ms'], ref(r)['freshness']['p50_ms'])) if s else (
            NA, None)

    return [(f'{name}: bytes/s per client', 'REF bytes/s', bytes_row),
            (f'{name}: server CPU (% of 1 core)', full_same_k, cpu_row),
            (f'{name}: clients kept up', '', kept_row),
            (f'{name}: freshness p50/p95/max ms (client 0)', 'REF p50', fresh_row)]


def rows(viewer_counts: list[int]) -> list[Row]:
    table: list[Row] = [
        ('simulator step(0.1) ms p50 / p95', '', lambda r: (
            f'{r["simulator"]["p50_ms"]:.3f} / {r["simulator"]["p95_ms"]:.3f}', None)),
        ('server CPU, run going, no viewer (% of 1 core)', '', lambda r: (
            f'{r["baseline"]["server_cpu_pct"]:.1f} %', None) if 'baseline' in r else (NA, None)),
        ('GET /status x20/s: server CPU above no-viewer (% of 1 core); wait p50/p95 ms', '', lambda r: (
            f'{r["status_polling"]["cpu_pct"]["server"] - r["baseline"]["server_cpu_pct"]:.1f} %; '
            f'{r["status_polling"]["p50_ms"]:.0f} / {r["status_polling"]["p95_ms"]:.0f} ms', None)),
    ]
    for count in viewer_counts:
        table += ws_rows('full', count) + ws_rows('changes', count)
    table += [
        ('page: navigation to grid drawn (s; cards in DOM)', 'REF 1st frame s', lambda r: page(r, lambda p: (
            f'{p["grid_s"]:.2f} ({p["cards_in_dom"]} of {r["tasks"]})', ratio(p['grid_s'], ref(r)['first_frame_s'])))),
        ('page: bytes to grid drawn', 'REF 1st frame B', lambda r: page(r, lambda p: (
            size(p['load_bytes']), ratio(p['load_bytes'], ref(r)['first_frame_bytes'])))),
        ('page: bytes/s while running (down+up)', 'REF bytes/s', lambda r: page(r, lambda p: (
            size(p['bytes_down_s'] + p['bytes_up_s']) + '/s',
            ratio(p['bytes_down_s'] + p['bytes_up_s'], ref(r)['bytes_per_client_s'])))),
        ('page: server CPU above no-viewer (% of 1 core)', 'REF per client', lambda r: page(r, lambda p: (
            f'{p["cpu_pct"]["server"] - r["baseline"]["server_cpu_pct"]:.1f} %',
            ratio(p['cpu_pct']['server'] - r['baseline']['server_cpu_pct'], per_viewer_cpu(r, ref(r)))))),
        ('page: main thread Task / Script (% of 1 core)', '', lambda r: page(r, lambda p: (
            f'{p["main_thread_pct"].get("TaskDuration", 0):.1f} / {p["main_thread_pct"].get("ScriptDuration", 0):.1f}'
            ' %', None))),
        ('page: all Chromium processes CPU (% of 1 core)', '', lambda r: page(r, lambda p: (
            f'{p["cpu_pct"]["browser"]:.1f} %', None))),
        ('page: freshness p50/p95/max ms', 'REF p50', lambda r: page(r, lambda p: (
            fresh(p['freshness']), ratio(p['freshness']['p50_ms'], ref(r)['freshness']['p50_ms'])))),
        ('page: freshness p50, 1st -> 2nd half of window', '', lambda r: page(r, lambda p: (
            f'{p["freshness"]["p50_first_half_ms"]} -> {p["freshness"]["p50_second_half_ms"]} ms', None))),
        ('page: card changes seen / server changes (cards in DOM)', '', lambda r: page(r, lambda p: (
            f'{p["freshness"]["samples"]} / {p["server_changes_in_window"]}', None))),
        ('page: running cards behind at end (max s)', '', lambda r: page(r, lambda p: (
            f'{p["cards_behind_at_end"]}/{p["cards_running_at_end"]} ({p["max_behind_s"]:.1f} s)', None))),
        ('slow viewer: server RSS before/peak/after MB', '', lambda r: slow(r, lambda s: (
            f'{s["rss_before_mb"]:.0f} / {s["rss_peak_mb"]:.0f} / {s["rss_after_mb"]:.0f}', None))),
        ('slow viewer: other readers kept cadence', '', lambda r: slow(r, lambda s: (
            f'{s["others_kept_cadence"]}/{s["others"]} (min {s["min_frames"]} frames, max gap {s["max_gap_s"]:.2f}'
            ' s)', None))),
        ('slow viewer: kernel send queue for it at end', '', lambda r: slow(r, lambda s: (
            size(s['kernel_send_queue_bytes']), None))),
        ('slow viewer: server dropped it (/status streams)', '', lambda r: slow(r, lambda s: (
            f'{dropped(s)}; streams {s["streams_with_slow"]} -> {s["streams_at_end"]}', None))),
        ('replay check: task percents off the replay (all phases)', '', lambda r: (
            str(sum(p.get('replay_mismatches', 0) for p in [*r['ws'].values(), r.get('page', {})])), None)),
        ('server run clock ahead of started_at (ms, per phase)', '', lambda r: (
            ', '.join(f'{lead:.0f}' for lead in r['server_clock_lead_ms']), None)),
        ('relay CPU, highest phase (% of 1 core)', '', lambda r: (f'{r["relay_cpu_max_pct"]:.1f} %', None)),
        ('CPU of processes not ours, highest phase (% of 1 core)', '', lambda r: (
            f'{r["others_cpu_max_pct"]:.1f} %', None)),
    ]
    return table


def dropped(figures: dict[str, Any]) -> str:
    if figures['server_gave_up']:
        return 'yes (EOF once drained)'
    if figures['streams_at_end'] is not None and figures['streams_at_end'] < figures['streams_with_slow']:
        return 'yes'
    return 'no (still streaming)'


def page(result: dict[str, Any], show: Callable[[dict[str, Any]], tuple[str, float | None]]) -> tuple[str, Any]:
    if 'page' not in result:
        return f'{NA} ({result.get("page_error", "not measured")[:70]}; see JSON)', None
    return show(result['page'])


def slow(result: dict[str, Any], show: Callable[[dict[str, Any]], tuple[str, float | None]]) -> tuple[str, Any]:
    if 'slow' not in result:
        return f'{NA} ({result.get("slow_error", "not measured")})', None
    return show(result['slow'])


def render(results: list[dict[str, Any]], viewer_counts: list[int]) -> str:
    header = ['figure', 'ratio vs'] + [f'N={r["tasks"]:,}' for r in results]
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for label, versus, cell in rows(viewer_counts):
        cells = []
        for result in results:
            try:
                text, factor = cell(result)
            except (KeyError, TypeError) as error:
                why = f'failed: {result["error"][:60]}' if 'error' in result else f'missing {error}'
                text, factor = f'{NA} ({why})', None
            cells.append(text if factor is None else f'{text} (x{factor:.2f})')
        lines.append('| ' + ' | '.join([label, versus or '-'] + cells) + ' |')
    return '\n'.join(lines)
