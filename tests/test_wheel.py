"""trainlab installed from a wheel, not from this checkout: the configs and the Hydra plugins
must travel inside it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_wheel_ships_the_configs_and_trains(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    str(ROOT), "-w", str(tmp_path)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = tmp_path.glob("trainlab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    conf = sorted(p.relative_to(ROOT / "src").as_posix()
                  for p in (ROOT / "src" / "trainlab" / "conf").rglob("*.yaml"))
    assert set(conf) <= set(names)
    assert any(n.startswith("hydra_plugins/trainlab_launcher/") for n in names)
    assert {"trainlab/report/page.js", "trainlab/report/page.css"} <= set(names)

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheel)], check=True, capture_output=True,
                   timeout=300)
    env = {**os.environ, "PYTHONPATH": str(target)}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    check = subprocess.run(
        [sys.executable, "-c", "import trainlab; print(trainlab.__file__)"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert check.stdout.startswith(str(target)), check.stdout  # not this checkout
    run = subprocess.run(
        [sys.executable, "-m", "trainlab.cli", "data=xor", "model.widths=[4]",
         "batch_size=full", "epochs=2", "progress=false", "hydra.run.dir=run"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (elsewhere / "run" / "summary.json").is_file()
    report = subprocess.run([sys.executable, "-m", "trainlab.commands", "report", "run"],
                            cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr
    assert (elsewhere / "run" / "report.html").is_file()  # page.js and page.css inlined
