"""`python main.py --native` opens a desktop window that shows the board, on a virtual screen (Xvfb)."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ..helpers import Server, clean_env
from .conftest import SCREENSHOTS, require

START_BUTTON_BLUE = (29, 78, 216)  # taskdemo.ui.page.PRIMARY
PENDING_GRAY = (229, 231, 235)  # .task-pending in grid.css
WINDOW_TIMEOUT_S = 60


def native_missing() -> str | None:
    if shutil.which('Xvfb') is None:
        return 'no Xvfb: apt-get install xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0'
    for module, install in (('webview', "pip install -e '.[native]'"), ('PIL', "pip install -e '.[test]'")):
        if importlib.util.find_spec(module) is None:
            return f'{module} is not installed: {install}'
    return None


def free_display() -> int:
    for number in range(90, 200):
        if not Path(f'/tmp/.X11-unix/X{number}').exists() and not Path(f'/tmp/.X{number}-lock').exists():
            return number
    raise RuntimeError('no free X display number')


@pytest.fixture
def virtual_screen():
    require(native_missing())
    number = free_display()
    xvfb = subprocess.Popen(['Xvfb', f':{number}', '-screen', '0', '1280x900x24', '-nolisten', 'tcp'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not Path(f'/tmp/.X11-unix/X{number}').exists():
            assert xvfb.poll() is None and time.monotonic() < deadline, 'Xvfb did not start'
            time.sleep(0.05)  # waiting for Xvfb's socket to appear: there is no event to wait on
        yield f':{number}'
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)


def colour_count(image, colour: tuple[int, int, int]) -> int:
    return sum(count for count, pixel in image.getcolors(maxcolors=1 << 24) if pixel[:3] == colour)


def test_the_native_window_shows_the_board(virtual_screen, tmp_path):
    from PIL import ImageGrab
    env = clean_env(DISPLAY=virtual_screen, PYWEBVIEW_GUI='qt', QTWEBENGINE_CHROMIUM_FLAGS='--no-sandbox')
    server = Server('--native', log_dir=tmp_path, env=env)
    server.start()
    try:
        deadline = time.monotonic() + WINDOW_TIMEOUT_S
        while True:
            image = ImageGrab.grab(xdisplay=virtual_screen).convert('RGB')
            blue, gray = colour_count(image, START_BUTTON_BLUE), colour_count(image, PENDING_GRAY)
            if blue > 500 and gray > 50 * 1000:
                break
            assert time.monotonic() < deadline, f'no board in the window after {WINDOW_TIMEOUT_S} s: {server.log()}'
            time.sleep(0.5)  # the window paints when it paints; polling the screen is all there is
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        image.save(SCREENSHOTS / 'native.png')
        assert len(image.getcolors(maxcolors=1 << 24)) > 20, 'the window is blank'  # text brings many shades
    finally:
        server.stop()
