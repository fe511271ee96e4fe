"""`vaegrade watch` for real: a subprocess watching a course copy, files edited, Ctrl-C."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.settings import COURSE_MARKER

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("watchfiles", reason="vaegrade watch needs watchfiles (pip install watchfiles)")


class Watcher:
    """`python -m grader watch ARGS` in `cwd`, its output read line by line on a thread."""

    def __init__(self, cwd: Path, *args: str):
        env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200", PYTHONUNBUFFERED="1")
        env.pop("VAEGRADE_COURSE", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "grader", "watch", *args], cwd=cwd, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def screen(self, timeout: float = 90) -> str:
        """The next whole screen (up to its last line, "Waiting for a save"), lines joined by spaces."""
        return " ".join(self.until("Waiting for a save", timeout))

    def until(self, text: str, timeout: float = 90) -> list[str]:
        """The lines read up to and including the first one holding `text`."""
        got, deadline = [], time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {text!r} within {timeout} s; output so far: {self.seen}") from None
            if line is None:
                raise AssertionError(f"watch exited before {text!r}; output: {self.seen}")
            got.append(line)
            self.seen.append(line)
            if text in line:
                return got

    def stop(self) -> int:
        """Ctrl-C (SIGINT); its exit status once it is gone, and every line it printed is in `seen`."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        while (line := self.lines.get(timeout=10)) is not None:
            self.seen.append(line)
        return code


@pytest.fixture()
def course(tmp_path) -> Path:
    root = tmp_path / "course"
    shutil.copytree(ROOT / "exercises", root / "exercises")
    (root / COURSE_MARKER).write_text("[course]\n", encoding="utf-8")
    return root


def _save(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_watch_reruns_a_concept_on_save_and_leaves_on_ctrl_c(course):
    mse = course / "exercises" / "mse.py"
    stub = mse.read_text(encoding="utf-8")
    w = Watcher(course / "exercises", "mse")       # from inside exercises/: the course is found upwards
    try:
        first = w.screen()
        assert "first run" in first and "mse 0/1 public checks pass" in " ".join(first.split())
        assert "Next: mse" in first and "not implemented yet" in first and "line 39 of mse.py" in first

        _save(mse, (ROOT / "solutions" / "mse.py").read_text(encoding="utf-8"))
        text = w.screen()
        assert "mse.py saved" in text and "+ now passing: mse: matches the lesson's worked example" in text
        assert "1/1 public checks pass" in text and "Every public check of the watched concepts passes" in text

        _save(mse, stub.replace("    raise NotImplementedError", "    return 0.5"))
        text = w.screen()
        assert "- now failing: mse: matches the lesson's worked example" in text and "Next: mse" in text

        # a file of a concept not watched changes nothing on screen
        _save(course / "exercises" / "kl.py", (ROOT / "solutions" / "kl.py").read_text(encoding="utf-8"))
        time.sleep(1.0)
        assert w.lines.empty(), list(w.lines.queue)
    finally:
        code = w.stop()
    assert code in (0, 130), w.seen
    assert w.seen[-1] == "Stopped watching." and "Traceback" not in "\n".join(w.seen)


def test_watch_a_notebook_reruns_every_watched_concept(course, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbformat import v4

    notebook = tmp_path / "vae.ipynb"
    nb = v4.new_notebook(cells=[v4.new_code_cell("import numpy as np"),
                                v4.new_code_cell("def reconstruction_mse(x, x_hat):\n    raise NotImplementedError")])
    nbformat.write(nb, notebook)
    w = Watcher(course, "mse", "--dir", str(notebook))
    try:
        first = w.screen()
        assert "not implemented yet" in first and "cell 2, line 2 of vae.ipynb" in first
        nb.cells[1] = v4.new_code_cell((ROOT / "solutions" / "mse.py").read_text(encoding="utf-8"))
        nbformat.write(nb, notebook)
        text = w.screen()
        assert "vae.ipynb saved" in text and "+ now passing: mse" in text
    finally:
        code = w.stop()
    assert code in (0, 130), w.seen
