"""Ctrl-C and SIGTERM: training saves its checkpoint and best model, then resumes.

The main tests start a real ``python -m mlpkit train`` process, send it the
signal once its first checkpoint exists, and resume from what it left.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlpkit import MLP
from mlpkit.cli import main
from mlpkit.cli.commands import stop_requests

SRC = Path(__file__).resolve().parents[1] / "src"
pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="sends POSIX signals to a child process"
)

TRAIN_OPTIONS = ["--target", "label", "--hidden", "32", "--batch-size", "8"]
TRAIN_OPTIONS += ["--patience", "1000", "--quiet"]


def write_csv(path, n_rows=2000, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n_rows, 6)), columns=list("abcdef"))
    frame["label"] = np.where(frame["a"] - frame["b"] > 0, "up", "down")
    frame.to_csv(path, index=False)
    return path


def start_training(tmp_path, *arguments):
    env = dict(os.environ)
    paths = [str(SRC), *filter(None, [env.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    command = [sys.executable, "-m", "mlpkit", "train", *map(str, arguments)]
    return subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path, process, timeout=60.0):
    """Wait until ``path`` exists, failing if ``process`` ends first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            output = process.stderr.read()
            pytest.fail(f"training ended before writing {path}: {output}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{path} did not appear within {timeout} s")
        time.sleep(0.01)


@pytest.mark.parametrize(
    "signal_number, status",
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
    ids=["SIGINT", "SIGTERM"],
)
def test_signal_saves_and_resumes(tmp_path, signal_number, status):
    data = write_csv(tmp_path / "data.csv")
    checkpoint = tmp_path / "run.ckpt"
    best = tmp_path / "best.mlpkit"
    options = [*TRAIN_OPTIONS, "--epochs", "500", "--checkpoint", checkpoint]
    process = start_training(tmp_path, data, *options, "-o", best)

    wait_for(checkpoint, process)
    process.send_signal(signal_number)
    out, err = process.communicate(timeout=60)

    assert process.returncode == status, err
    assert f"{signal.Signals(signal_number).name} received" in err
    assert "Traceback" not in err
    assert f"--resume {checkpoint}" in out
    stopped = MLP.load(best)
    assert stopped.history_.interrupted
    assert stopped.history_.epochs >= 1

    # Resume to a few epochs past the interruption, and compare with one run.
    epochs = str(MLP.load(checkpoint).history_.epochs + 2)
    resumed_path = tmp_path / "resumed.mlpkit"
    full_path = tmp_path / "full.mlpkit"
    arguments = ["train", str(data), *TRAIN_OPTIONS, "--epochs", epochs]
    resume = ["--resume", str(checkpoint)]
    resumed_status = main([*arguments, *resume, "-o", str(resumed_path)])
    full_status = main([*arguments, "-o", str(full_path)])

    assert resumed_status == 0
    assert full_status == 0
    resumed = MLP.load(resumed_path)
    full = MLP.load(full_path)
    np.testing.assert_array_equal(resumed.network_.parameters, full.network_.parameters)
    assert resumed.history_.to_dict() == full.history_.to_dict()


def test_signal_without_checkpoint_saves_best_model(tmp_path):
    data = write_csv(tmp_path / "data.csv")
    best = tmp_path / "best.mlpkit"
    process = start_training(
        tmp_path, data, *TRAIN_OPTIONS, "--epochs", "500", "-o", best, "--debug"
    )
    # --debug logs every epoch to stderr, which shows that training has begun.
    for line in process.stderr:
        if "epoch 2:" in line:
            break

    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)

    assert process.returncode == 130
    best_epoch = MLP.load(best).history_.best_epoch
    assert f"saved the best model so far (epoch {best_epoch})" in out
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["best.mlpkit", "data.csv"]


def test_second_sigint_raises_keyboard_interrupt():
    with stop_requests() as stop:
        signal.raise_signal(signal.SIGINT)
        assert stop.requested()
        assert stop.signal_number == signal.SIGINT
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)


def test_handlers_restored_after_training():
    before = signal.getsignal(signal.SIGTERM)

    with stop_requests():
        assert signal.getsignal(signal.SIGTERM) is not before

    assert signal.getsignal(signal.SIGTERM) is before
