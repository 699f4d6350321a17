"""Hostile and careless inputs get clear answers (issue 12), the run's side: Ctrl-C keeps the rows done, a second
run appends and a live lock refuses, anonymised outputs keep no path or sex, outputs follow the umask."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from helpers.hardening import summary_rows as _rows

from pipeline.infer import main as infer_main

ROOT = Path(__file__).resolve().parents[1]


# 7. Ctrl-C and two runs into one folder
def test_ctrl_c_exits_130_keeping_the_rows_done(tmp_path, models, film):
    folder = tmp_path / "films"
    folder.mkdir()
    for k in range(1000):  # hard links: many films cheaply, so that the run cannot finish before the signal
        try:
            os.link(film, folder / f"f{k:04d}.dcm")
        except OSError:
            shutil.copy(film, folder / f"f{k:04d}.dcm")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "pipeline.infer", str(folder), "--out", str(out), "--models", str(models), "--quiet"]
    # Ctrl-C restored in the child: a run started in the background (nohup ... &) ignores SIGINT and passes that on
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    import time

    deadline = time.monotonic() + 600  # the signal goes once films are being measured, however slow the start
    while not ((out / "summary.csv").exists() and len(_rows(out)) >= 2):
        assert process.poll() is None, f"the run ended before it could be interrupted: {process.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, "no film measured in 600 s"
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "interrupted" in err and "Traceback" not in err, (process.returncode, err[-2000:])
    rows = _rows(out)
    assert 2 <= len(rows) < 1000 and all(r["status"] in ("ok", "no spine") for r in rows)
    assert not list(out.glob(".*.tmp")) and not (out / ".spine-infer.lock").exists()


def test_second_run_appends_and_a_live_lock_refuses(tmp_path, models, film, capsys):
    out = tmp_path / "out"
    for again in ([], ["--again"]):
        assert infer_main([str(film), "--out", str(out), "--models", str(models), "--quiet"] + again) == 0
    rows = _rows(out)
    assert len(rows) == 2 and rows[0]["run"] and all(r["status"] in ("ok", "no spine") for r in rows)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (out / ".spine-infer.lock").write_text(str(holder.pid))
        assert infer_main([str(film), "--out", str(out), "--models", str(models), "--quiet"]) == 2
        assert "another run" in capsys.readouterr().err
    finally:
        holder.kill()
    (out / ".spine-infer.lock").write_text("999999")  # left by a run that died: taken over
    assert infer_main([str(film), "--out", str(out), "--models", str(models), "--quiet", "--again"]) == 0


# privacy
def test_anonymise_keeps_no_path_no_sex_and_whole_years(tmp_path, models, film):
    out = tmp_path / "out"
    assert infer_main([str(film), "--out", str(out), "--models", str(models), "--quiet", "--anonymise"]) == 0
    image = json.loads((out / f"{film.stem}.json").read_text())["image"]
    assert image["path"] == film.name and image["sex"] is None and float(image["age"]).is_integer()
    assert _rows(out)[0]["file"] == film.name


def test_outputs_follow_the_umask(tmp_path, models, film):
    old = os.umask(0o022)
    try:
        out = tmp_path / "out"
        assert infer_main([str(film), "--out", str(out), "--models", str(models), "--quiet"]) == 0
    finally:
        os.umask(old)
    assert (out / f"{film.stem}.json").stat().st_mode & 0o777 == 0o644
