"""The terminal as a person meets it: ``train`` under a pseudo-terminal of a fixed width (80 and
120 columns, set both as the pty's size and as COLUMNS, so the machine's own terminal does not
matter), and what the screen shows: the run directory, "compiling", a bar that reaches its
total and leaves a line, no log line glued to a bar, tables that fit without ellipses, numbers
formatted for reading."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from trainlab import records
from trainlab.config import compose
from trainlab.report import headline
from trainlab.report.numbers import format_value, format_with_std
from trainlab.report.tables import fitting_columns, print_fitted

TRAIN = str(Path(sys.executable).with_name("train"))
SMALL = ["data=moons", "epochs=2", "model.widths=[4]"]
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_LONG_FLOAT = re.compile(r"\d\.\d{6,}")  # 1.7435595774162693: a number nobody formatted
_BAR = "━"


def run_in_pty(args: list[str], columns: int, cwd: Path, timeout: float = 240) -> tuple[str, int]:
    """``args`` run under a pseudo-terminal ``columns`` wide: everything it wrote (stdout and
    stderr, control sequences left in) and its exit code."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = dict(os.environ, COLUMNS=str(columns), LINES="40", TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(args, stdin=follower, stdout=follower, stderr=follower, cwd=cwd,
                               env=env, close_fds=True)
    os.close(follower)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the follower closed: the process is gone
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    else:
        process.kill()
    os.close(leader)
    return b"".join(chunks).decode(errors="replace"), process.wait()


def frames(screen: str) -> list[str]:
    """Every line the terminal drew, with each redraw of a line (after a carriage return) as
    a line of its own, control sequences removed."""
    return [part for line in _ANSI.sub("", screen).split("\n") for part in line.split("\r")
            if part.strip()]


def glued(lines: list[str]) -> list[str]:
    """Lines where a log line was written onto a progress bar."""
    return [line for line in lines if _BAR in line and re.search(r"\[\d{4}-\d\d-\d\d ", line)]


def too_wide(lines: list[str], columns: int) -> list[str]:
    """Lines of a table or a bar wider than the terminal (a path or a log line may be longer:
    the terminal wraps them, and their length is the machine's, not trainlab's)."""
    return [line for line in lines if len(line) > columns and any(c in line for c in "━│┃┏")]


# ------------------------------------------------------------------ the checks can fail
def test_the_screen_checks_catch_what_the_issue_saw():
    seen = "trials ━━━ 62/64 0:01:42[2026-12-01 07:08:37,643][HYDRA] group 1/1: 64 jobs"
    assert glued(frames(seen)) == [seen]
    assert not glued(frames("trials ━━━ 62/64 0:01:42\r\n[2026-12-01 07:08:37,643][HYDRA] g"))
    assert frames("a\r\x1b[2Kb\r\nc") == ["a", "b", "c"]
    assert too_wide(["│" * 81], 80) and not too_wide(["│" * 80], 80)
    assert _LONG_FLOAT.search("best_epoch 18 ± 1.7435595774162693")


# ------------------------------------------------------------------------ formatting
def test_a_mean_over_seeds_is_the_true_mean_and_formatted():
    per_seed = [{"status": "ok", "best_epoch": e} | dict.fromkeys(records.SEED_FIELDS[1:], 0.5)
                for e in (15, 19, 20, 19, 19)]
    per_seed = [s | {"best_epoch": e} for s, e in zip(per_seed, (15, 19, 20, 19, 19))]
    summary = records.combine_seeds(per_seed)
    assert summary["best_epoch"] == pytest.approx(18.4)
    text = format_with_std("best_epoch", summary["best_epoch"], summary["best_epoch_std"])
    assert text == "18.4 ± 1.7"
    assert records.combine_seeds(per_seed[:1])["best_epoch"] == 15  # one seed: an epoch
    assert format_with_std("best_val_acc", 0.5654, 0.0123) == "56.54% ± 1.23%"
    assert format_value("n_params", 12345) == "12,345"


def test_one_seeds_summary_is_what_the_mean_over_seeds_would_give():
    one = {"status": "diverged", "best_epoch": 3, "test_avg_acc": np.float32(0.25)}
    one |= dict(zip(records.SEED_FIELDS[1:], [0.5, np.float32(0.75), np.nan, np.inf, -np.inf,
                                               1e-300, 2.0, 3]))
    alone, twice = records.combine_seeds([one]), records.combine_seeds([one, one])
    expected = {k: v for k, v in twice.items() if not k.endswith("_std") and k != "n_diverged"}
    expected["best_epoch"] = int(expected["best_epoch"])
    assert list(alone) == list(expected)
    assert all(type(alone[k]) is type(v) for k, v in expected.items())
    np.testing.assert_equal(alone, expected)  # nan == nan here
    assert format_value("test_loss", float("nan")) == "-"


def test_the_header_names_every_choice_that_is_not_the_default():
    line = headline(compose(["data=moons", "regularizer=l2", "normalization=batchnorm",
                             "optimizer=sgd", "optimizer.lr=0.05", "seeds=3"]))
    for part in ("moons", "batchnorm", "l2 kappa=0.0001", "sgd lr=0.05", "seeds=3"):
        assert part in line, (part, line)
    plain = headline(compose(["data=moons"]))
    assert "batchnorm" not in plain and "seeds" not in plain and "l2" not in plain


# ----------------------------------------------------------------------------- tables
@pytest.mark.parametrize("columns", [80, 120])
def test_a_table_too_wide_leaves_columns_out_and_names_them(columns):
    headers = ["job", *(f"optimizer.hyperparameter_{i}" for i in range(6)), "status"]
    rows = [[str(j), *("0.001" for _ in range(6)), "ok"] for j in range(3)]
    out = io.StringIO()
    print_fitted(Console(file=out, width=columns), headers, rows, where="summary.csv")
    lines = out.getvalue().splitlines()
    assert "…" not in out.getvalue()
    assert not too_wide(lines, columns)
    shown = fitting_columns(headers, rows, columns)
    assert 1 < len(shown) < len(headers)
    assert all(headers[i] in lines[1] for i in shown)  # whole headers
    note = " ".join(lines[lines.index(next(x for x in lines if x.startswith("└"))) + 1:])
    assert note.startswith(f"{len(headers) - len(shown)} columns not shown")
    assert all(headers[i] in note for i in range(len(headers)) if i not in shown)
    assert note.endswith("(all in summary.csv)")


# --------------------------------------------------------------------- the commands
@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("terminal")


@pytest.mark.parametrize("columns", [80, 120])
def test_a_run_says_where_its_files_went_and_its_bar_reaches_the_end(workdir, columns):
    cwd = workdir / f"run{columns}"
    cwd.mkdir()
    screen, code = run_in_pty([TRAIN, *SMALL, "seeds=2"], columns, cwd)
    lines = frames(screen)
    assert code == 0, screen[-2000:]
    [start] = [line for line in lines if line.startswith("run dir: ")]
    run_dir = cwd / start.removeprefix("run dir: ").strip()
    assert (run_dir / "summary.json").is_file()
    [end] = [i for i, line in enumerate(lines)
             if line.startswith(f"files in {start.removeprefix('run dir: ').strip()}/: ")]
    assert "summary.json" in " ".join(lines[end:])
    assert any("compiling" in line for line in lines)
    assert any(_BAR in line and "epoch 2/2" in line for line in lines)  # the bar's last frame
    [trace] = [line for line in lines if line.startswith("2/2 epochs in ")]
    assert re.search(r"val (loss )?\d\.\d{4} .*acc \d+\.\d\d%", trace), trace
    assert any(line.startswith("trainlab: moons") for line in lines)
    assert "seeds=2" in " ".join(lines)
    summary = json.loads((run_dir / "summary.json").read_text())
    [row] = [line for line in lines if "best_epoch" in line and "±" in line]
    assert format_with_std("best_epoch", summary["best_epoch"], summary["best_epoch_std"]) in row
    assert not _LONG_FLOAT.search(_ANSI.sub("", screen))
    assert "…" not in screen
    assert not too_wide(lines, columns)
    assert not glued(lines)


@pytest.mark.parametrize("columns", [80, 120])
def test_a_seed_sweep_bar_reaches_its_total_and_ranks_configurations(workdir, columns):
    sweep_dir = workdir / f"sweep{columns}"
    screen, code = run_in_pty([TRAIN, "-m", *SMALL, "optimizer.lr=0.01,0.1", "seed=0,1",
                               f"hydra.sweep.dir={sweep_dir}"], columns, workdir)
    lines = frames(screen)
    assert code == 0, screen[-2000:]
    assert not glued(lines), glued(lines)
    assert any(_BAR in line and "4/4" in line for line in lines)
    assert any(line.startswith("trials: 4/4 in ") for line in lines)
    assert any("compiling" in line and _BAR in line for line in lines)
    assert any("eta" in line and _BAR in line for line in lines)
    assert any(line.startswith("by configuration (2,") for line in lines)
    grouped = records.pd.read_csv(sweep_dir / "summary_by_config.csv")
    assert list(grouped["n"]) == [2, 2]
    assert grouped["objective"].is_monotonic_increasing
    assert "…" not in screen
    assert not too_wide(lines, columns)
    assert not _LONG_FLOAT.search(_ANSI.sub("", screen))


def _train(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([TRAIN, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, COLUMNS="80"))


@pytest.mark.parametrize(("args", "says"), [
    (["optimizer.lr=-1"], "optimizer.lr"),
    (["batch_size=100000"], "batch_size=100000"),
    (["optimizer=Adam"], "did you mean optimizer=adam?"),
    (["help"], "did you mean `train --help`?"),
])
def test_a_bad_input_is_one_line_and_leaves_no_folder(tmp_path, args, says):
    """(Unknown keys, with their closest match, are test_cli.py's.) A value found wrong once
    the data is loaded comes after the run's header: the error is still one line, the last."""
    result = _train(*SMALL, *args, cwd=tmp_path)
    assert result.returncode == 2
    *before, line = result.stderr.splitlines()
    assert line.startswith("train: error: ") and says in line, line
    assert not before or before[0].startswith("trainlab: "), before  # the header, wrapped
    assert not any("error" in b or "Traceback" in b for b in before), before
    assert list(tmp_path.iterdir()) == []  # no outputs/DATE/ left


def test_version_names_trainlab_and_jax(tmp_path):
    result = _train("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert re.fullmatch(r"trainlab \S+ \(jax \S+, .*device.*\)\n", result.stdout), result.stdout
    assert "Hydra 1" not in result.stdout.split("(")[0]


def test_the_run_is_in_cli_log_and_not_twice_on_the_terminal(tmp_path):
    import subprocess
    import sys

    run_dir = tmp_path / "run"
    shown = subprocess.run([sys.executable, "-m", "trainlab.cli", "data=moons", "epochs=2",
                            "model.widths=[4]", "batch_size=32", "progress=false",
                            f"hydra.run.dir={run_dir}"], capture_output=True, text=True,
                           check=True)
    log = (run_dir / "cli.log").read_text()
    assert "trainlab: moons" in log and f"files in {run_dir}" in log
    assert '"best_val_loss"' in log
    assert "trainlab.run_log" not in shown.stdout + shown.stderr
