"""Command-line cases from a user trial: unwritable outputs, pipes as input,
a closed stdout, Ctrl-C before training, --resume, info's loss and empty paths.
"""

import io
import os
import shutil
import signal
import subprocess
import sys
import types
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from mlpkit.cli import commands as cli_commands
from mlpkit.cli import main
from mlpkit.cli import program as cli_program
from mlpkit.cli.display import settings_table
from mlpkit.model import MLP
from mlpkit.modelfile import load_model_file

SRC = Path(__file__).resolve().parents[1] / "src"
FAST = ["--epochs", "5", "--hidden", "8", "--quiet"]
N_ROWS = 120
INTERRUPTED_LINE = "stopped: interrupted by SIGINT (Ctrl-C)\n"

posix_only = pytest.mark.skipif(
    sys.platform == "win32", reason="uses POSIX pipes, FIFOs and file modes"
)


def make_frame(seed: int = 0) -> pd.DataFrame:
    """Return two numeric inputs with a binary label and a numeric target."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=N_ROWS), "x2": rng.normal(size=N_ROWS)})
    frame["label"] = np.where(frame["x1"] > 0, "yes", "no")
    frame["price"] = 3 * frame["x1"] - frame["x2"]
    return frame


def run_cli(capsys, *args) -> tuple[int, str, str]:
    status = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(SRC), *filter(None, [env.get("PYTHONPATH")])]
    )
    return env


def mlpkit_command(*args) -> list[str]:
    return [sys.executable, "-m", "mlpkit", *map(str, args)]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Train a classifier, a regressor and an autoencoder once for the module."""
    folder = tmp_path_factory.mktemp("trial")
    data = folder / "data.csv"
    make_frame().to_csv(data, index=False)
    paths = {
        "data": data,
        "classifier": folder / "cls.mlpkit",
        "regressor": folder / "reg.mlpkit",
        "autoencoder": folder / "ae.mlpkit",
    }
    trainings = [
        ["--target", "label", "-o", paths["classifier"]],
        ["--target", "price", "-o", paths["regressor"]],
        ["--target", "label,price", "--autoencoder", "-o", paths["autoencoder"]],
    ]
    for options in trainings:
        status = main([str(arg) for arg in ["train", data, *FAST, *options]])
        assert status == 0
    return paths


# Output directories that cannot be written to


@contextmanager
def unwritable_directory(folder: Path):
    """Yield a function that runs mlpkit with ``folder`` closed to new files.

    A user other than root gets ``chmod 0o555``. Root ignores file modes, so
    for root the command runs in a private mount namespace where ``folder`` is
    bound read-only. That mount is invisible outside the one process. The case
    is skipped where neither stops the creation of a file.
    """
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            probe = folder / "probe"
            try:
                probe.touch()
            except OSError:
                pass
            else:
                pytest.skip("chmod 0o555 does not stop this user's writes")

            def run(*args) -> subprocess.CompletedProcess:
                return subprocess.run(
                    mlpkit_command(*args),
                    env=subprocess_env(),
                    capture_output=True,
                    text=True,
                    timeout=120,
                )

            yield run
        finally:
            folder.chmod(0o755)
        return

    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("running as root without unshare and mount for a read-only bind")
    script = (
        'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && '
        'exec "$@"'
    )

    def run_read_only(*command) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["unshare", "--mount", "--", "sh", "-c", script, "sh", str(folder)]
            + [str(part) for part in command],
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    probe = run_read_only("touch", folder / "probe")
    if probe.returncode == 0 or "Read-only" not in probe.stderr:
        pytest.skip(f"running as root and a read-only bind failed: {probe.stderr}")

    def run(*args) -> subprocess.CompletedProcess:
        return run_read_only(*mlpkit_command(*args))

    yield run


@posix_only
@pytest.mark.parametrize(
    ("command", "option", "name"),
    [
        ("train", "--output", "m.mlpkit"),
        ("train", "--checkpoint", "run.ckpt"),
        ("train", "--plot", "curves.png"),
        ("predict", "--output", "p.csv"),
        ("anomalies", "--output", "scores.csv"),
        ("plot", "--output", "p.png"),
    ],
)
def test_unwritable_output_directory_rejected(files, tmp_path, command, option, name):
    folder = tmp_path / "closed"
    output = folder / name
    arguments = {
        "train": ["train", files["data"], "--target", "price", *FAST],
        "predict": ["predict", files["regressor"], files["data"]],
        "anomalies": ["anomalies", files["autoencoder"], files["data"]],
        "plot": ["plot", files["regressor"]],
    }[command]
    if command == "train" and option != "--output":
        arguments += ["--output", tmp_path / "m.mlpkit"]

    with unwritable_directory(folder) as run:
        result = run(*arguments, option, output)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: cannot write {option} {output}:")
    assert repr(str(folder)) in lines[0]
    assert not (tmp_path / "m.mlpkit").exists()


def test_writable_directory_check_leaves_no_file(files, tmp_path, capsys):
    output = tmp_path / "predictions.csv"
    status, _, _ = run_cli(
        capsys, "predict", files["regressor"], files["data"], "-o", output
    )

    assert status == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == [output.name]


# Pipes, devices and standard input as input files


@pytest.fixture
def pipe_path(files):
    """Return a function that makes /dev/fd/N, a pipe holding a file's bytes.

    This is what a shell's ``<(cat FILE)`` passes. The writing end is closed,
    so a reader gets the bytes and then the end of the file, never a wait.
    """
    if not os.path.isdir("/dev/fd"):
        pytest.skip("needs /dev/fd")
    descriptors = []

    def make(path: Path) -> str:
        content = path.read_bytes()
        read_end, write_end = os.pipe()
        descriptors.append(read_end)
        # A pipe buffers at least 64 KiB on Linux, more than these small files.
        assert len(content) < 60_000
        os.write(write_end, content)
        os.close(write_end)
        return f"/dev/fd/{read_end}"

    yield make
    for descriptor in descriptors:
        os.close(descriptor)


@posix_only
@pytest.mark.parametrize(
    ("command", "piped"),
    [
        ("train", "data"),
        ("predict", "data"),
        ("evaluate", "data"),
        ("importance", "data"),
        ("anomalies", "data"),
        ("predict", "model"),
        ("evaluate", "model"),
        ("info", "model"),
        ("importance", "model"),
        ("anomalies", "model"),
    ],
)
def test_pipe_input_rejected(files, pipe_path, tmp_path, capsys, command, piped):
    model = files["autoencoder" if command == "anomalies" else "regressor"]
    data = files["data"]
    if piped == "data":
        data = pipe_path(data)
    else:
        model = pipe_path(model)
    arguments = {
        "train": ["train", data, "--target", "price", *FAST, "-o", tmp_path / "m"],
        "info": ["info", model],
    }.get(command, [command, model, data])

    status, out, err = run_cli(capsys, *arguments)

    role = "data file" if piped == "data" else "model file"
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"error: {role} /dev/fd/")
    assert "is a pipe (FIFO), not a regular file" in err
    assert "save it to a file" in err


@posix_only
def test_pipe_resume_rejected(files, pipe_path, tmp_path, capsys):
    checkpoint = tmp_path / "run.ckpt"
    train = ["train", files["data"], "--target", "price", *FAST]
    train += ["-o", tmp_path / "m.mlpkit"]
    assert main([str(arg) for arg in [*train, "--checkpoint", checkpoint]]) == 0
    capsys.readouterr()

    status, _, err = run_cli(capsys, *train, "--resume", pipe_path(checkpoint))

    assert status == 2
    assert err.startswith("error: --resume checkpoint /dev/fd/")
    assert "is a pipe (FIFO)" in err


@posix_only
def test_named_fifo_data_rejected(files, tmp_path):
    # Opening a FIFO without a writer blocks, so this runs in a child process
    # with a timeout.
    fifo = tmp_path / "data.fifo"
    os.mkfifo(fifo)
    result = subprocess.run(
        mlpkit_command("evaluate", files["regressor"], fifo),
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert result.stderr.startswith(f"error: data file {fifo} is a pipe (FIFO)")


@pytest.mark.parametrize(
    ("arguments", "role"),
    [
        (["train", "-", "--target", "price"], "data file"),
        (["predict", "{regressor}", "-"], "data file"),
        (["predict", "-", "{data}"], "model file"),
        (["evaluate", "-", "{data}"], "model file"),
        (["info", "-"], "model file"),
        (["train", "{data}", "--target", "y", "--resume", "-"], "--resume checkpoint"),
    ],
)
def test_stdin_dash_rejected(files, capsys, arguments, role):
    names = {key: str(path) for key, path in files.items()}
    arguments = [argument.format(**names) for argument in arguments]

    status, _, err = run_cli(capsys, *arguments)

    assert status == 2
    assert err.count("\n") == 1
    assert err.startswith(f"error: reading the {role} from standard input ('-')")
    assert "not supported" in err


def test_empty_data_path_rejected(capsys):
    status, _, err = run_cli(capsys, "train", "", "--target", "price")

    assert status == 2
    assert err == "error: the data file path is empty; pass a file path\n"


# A closed stdout


def run_with_closed_stdout(*args) -> subprocess.CompletedProcess:
    """Run mlpkit with stdout a pipe whose reader has already exited.

    stdout is buffered, as by default, so text can still be pending at exit.
    """
    env = subprocess_env()
    env.pop("PYTHONUNBUFFERED", None)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            mlpkit_command(*args),
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)


@posix_only
@pytest.mark.parametrize(
    "arguments",
    [
        ["info", "{regressor}"],
        ["predict", "{regressor}", "{data}"],
        ["evaluate", "{regressor}", "{data}"],
        ["importance", "{regressor}", "{data}"],
        ["anomalies", "{autoencoder}", "{data}"],
    ],
    ids=lambda arguments: arguments[0],
)
def test_closed_stdout_ends_quietly(files, arguments):
    names = {key: str(path) for key, path in files.items()}
    arguments = [argument.format(**names) for argument in arguments]

    result = run_with_closed_stdout(*arguments)

    assert result.returncode == 0
    assert result.stderr == ""


@posix_only
def test_closed_stdout_anomalies_csv_to_stdout(files):
    # With --output -, the CSV goes to stdout and the table to stderr.
    result = run_with_closed_stdout(
        "anomalies", files["autoencoder"], files["data"], "--output", "-"
    )

    assert result.returncode == 0
    assert "most unusual rows" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Exception ignored" not in result.stderr


@posix_only
def test_closed_stdout_after_train_keeps_model(files, tmp_path):
    model = tmp_path / "m.mlpkit"
    result = run_with_closed_stdout(
        "train", files["data"], "--target", "price", *FAST, "-o", model
    )

    assert result.returncode == 0
    assert "Traceback" not in result.stderr
    assert "Exception ignored" not in result.stderr
    assert "error" not in result.stderr
    assert model.is_file()


@posix_only
@pytest.mark.parametrize(
    ("arguments", "written"),
    [
        (
            ["train", "{data}", "--target", "price", "--folds", "2"]
            + ["-o", "{out}/m.mlpkit"],
            "m.mlpkit",
        ),
        (
            ["anomalies", "{autoencoder}", "{data}", "-o", "{out}/scores.csv"],
            "scores.csv",
        ),
        (["predict", "{regressor}", "{data}", "-o", "{out}/p.csv"], "p.csv"),
    ],
    ids=["train-folds", "anomalies", "predict"],
)
def test_closed_stdout_still_writes_output_file(files, tmp_path, arguments, written):
    names = {key: str(path) for key, path in files.items()}
    names["out"] = str(tmp_path)
    arguments = [argument.format(**names) for argument in arguments]
    if arguments[0] == "train":
        arguments += FAST

    result = run_with_closed_stdout(*arguments)

    assert result.returncode == 0
    assert "Traceback" not in result.stderr
    assert (tmp_path / written).is_file()


def run_with_stdout(stdout, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        mlpkit_command(*args),
        env=subprocess_env(),
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )


@posix_only
def test_stdout_not_open_rejected_for_predictions(files):
    # Python sets sys.stdout to None when descriptor 1 is not open (>&- in a shell).
    result = subprocess.run(
        mlpkit_command("predict", files["regressor"], files["data"]),
        env=subprocess_env(),
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.close(1),
    )

    assert result.returncode == 2
    assert "standard output is closed" in result.stderr
    assert "Traceback" not in result.stderr


@posix_only
def test_stdout_not_open_ignored_for_info(files):
    result = subprocess.run(
        mlpkit_command("info", files["regressor"]),
        env=subprocess_env(),
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.close(1),
    )

    assert result.returncode == 0
    assert result.stderr == ""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize(
    "arguments",
    [["info", "{regressor}"], ["predict", "{regressor}", "{data}"]],
    ids=["info", "predict"],
)
def test_full_stdout_reported_in_one_line(files, arguments):
    names = {key: str(path) for key, path in files.items()}
    arguments = [argument.format(**names) for argument in arguments]

    with open("/dev/full", "w") as full:
        result = run_with_stdout(full, *arguments)

    assert result.returncode == 2
    expected = "writing to standard output failed (no space left on device)"
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("folds", [[], ["--folds", "2"]], ids=["train", "folds"])
def test_full_stdout_still_writes_model(files, tmp_path, folds):
    model = tmp_path / "m.mlpkit"
    arguments = ["train", files["data"], "--target", "price", *FAST, *folds]

    with open("/dev/full", "w") as full:
        result = run_with_stdout(full, *arguments, "-o", model)

    assert result.returncode == 2
    assert model.is_file()
    assert result.stderr.count("error:") == 1
    assert "wrote any output files" in result.stderr
    assert "Exception ignored" not in result.stderr


# Ctrl-C outside training


def raise_interrupt(*args) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize("command", sorted(cli_program.COMMANDS))
def test_interrupt_prints_one_line(files, capsys, monkeypatch, command):
    monkeypatch.setitem(cli_program.COMMANDS, command, raise_interrupt)
    arguments = [command]
    if command not in ("train", "explain"):
        arguments.append(files["regressor"])
    if command in ("predict", "evaluate", "anomalies", "importance"):
        arguments.append(files["data"])

    status, out, err = run_cli(capsys, *arguments)

    assert status == 130
    assert out == ""
    assert err == INTERRUPTED_LINE


def test_interrupt_while_parsing(capsys, monkeypatch):
    monkeypatch.setattr(cli_program, "build_parser", raise_interrupt)
    try:
        status = main(["info", "model.mlpkit"])
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped main()")

    assert status == 130
    assert capsys.readouterr().err == INTERRUPTED_LINE


class InterruptedImport(types.ModuleType):
    """A module whose attributes raise KeyboardInterrupt, as Ctrl-C in an import."""

    def __getattr__(self, name: str):
        raise KeyboardInterrupt


def test_interrupt_during_import(capsys, monkeypatch):
    module = InterruptedImport("mlpkit.cli.program")
    monkeypatch.setitem(sys.modules, "mlpkit.cli.program", module)

    status = main(["info", "model.mlpkit"])

    assert status == 130
    assert capsys.readouterr().err == INTERRUPTED_LINE


# --resume


@contextmanager
def stop_after_polls(n_polls: int):
    """Stand in for stop_requests: report SIGINT from the ``n_polls``-th poll on."""
    requests = cli_commands.StopRequests()
    polls = []

    def requested() -> bool:
        polls.append(None)
        if len(polls) >= n_polls:
            requests.signal_number = signal.SIGINT
        return requests.signal_number is not None

    requests.requested = requested
    yield requests


@pytest.fixture
def stopped_checkpoint(files, tmp_path, monkeypatch, capsys) -> tuple[Path, int]:
    """Return a checkpoint of a training stopped by SIGINT inside an epoch, and
    the number of complete epochs it holds."""
    checkpoint = tmp_path / "run.ckpt"
    # About 86 training rows in batches of 32 make 3 batches and a poll at the
    # end of each epoch, so the 7th poll comes inside the second epoch.
    with monkeypatch.context() as patch:
        patch.setattr(cli_commands, "stop_requests", lambda: stop_after_polls(7))
        status = main(
            [
                "train",
                str(files["data"]),
                "--target",
                "price",
                "--hidden",
                "8",
                "--epochs",
                "50",
                "--quiet",
                "--checkpoint",
                str(checkpoint),
                "-o",
                str(tmp_path / "best.mlpkit"),
            ]
        )
    capsys.readouterr()
    assert status == 130
    metadata, _ = load_model_file(checkpoint)
    assert metadata["checkpoint"]["rows_done"] > 0
    return checkpoint, MLP.load(checkpoint).history_.epochs


def resume_arguments(files, checkpoint: Path, epochs: int, output: Path) -> list:
    return [
        "train",
        files["data"],
        "--target",
        "price",
        "--hidden",
        "8",
        "--quiet",
        "--resume",
        checkpoint,
        "--epochs",
        epochs,
        "-o",
        output,
    ]


@pytest.mark.parametrize("epochs_past", [-1, 0])
def test_resume_without_epochs_left_rejected(
    files, stopped_checkpoint, tmp_path, capsys, epochs_past
):
    checkpoint, epochs_run = stopped_checkpoint
    before = checkpoint.read_bytes()
    output = tmp_path / "resumed.mlpkit"
    epochs = epochs_run + epochs_past

    arguments = resume_arguments(files, checkpoint, epochs, output)
    status, out, err = run_cli(capsys, *arguments)

    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert f"has already run {epochs_run} epochs" in err
    assert f"pass --epochs above {epochs_run}" in err
    assert checkpoint.read_bytes() == before
    assert not output.exists()


def test_resume_finishes_interrupted_epoch(files, stopped_checkpoint, tmp_path, capsys):
    checkpoint, epochs_run = stopped_checkpoint
    output = tmp_path / "resumed.mlpkit"

    arguments = resume_arguments(files, checkpoint, epochs_run + 1, output)
    status, _, _ = run_cli(capsys, *arguments)

    assert status == 0
    assert MLP.load(output).history_.epochs == epochs_run + 1


def test_resume_after_last_epoch_rejected(files, tmp_path, capsys):
    checkpoint = tmp_path / "run.ckpt"
    train = ["train", files["data"], "--target", "price", *FAST]
    train += ["-o", tmp_path / "m.mlpkit"]
    assert main([str(arg) for arg in [*train, "--checkpoint", checkpoint]]) == 0
    capsys.readouterr()

    status, _, err = run_cli(capsys, *train, "--resume", checkpoint)

    assert status == 2
    assert "has already run 5 epochs, so --epochs=5 leaves none to train" in err


def test_resume_data_file_named_as_input(files, capsys):
    data = files["data"]
    status, _, err = run_cli(
        capsys, "train", data, "--target", "price", *FAST, "--resume", data
    )

    assert status == 2
    assert err.startswith(f"error: --resume {data} is the training data file")
    assert "not a checkpoint" in err
    assert "output" not in err


def test_resume_missing_named_checkpoint(files, tmp_path, capsys):
    missing = tmp_path / "nothere.ckpt"
    status, _, err = run_cli(
        capsys, "train", files["data"], "--target", "price", *FAST, "--resume", missing
    )

    assert status == 2
    assert err.startswith(f"error: --resume checkpoint {str(missing)!r} not found")
    assert "model file" not in err


def test_resume_and_checkpoint_same_path(files, tmp_path, capsys):
    checkpoint = tmp_path / "run.ckpt"
    train = ["train", files["data"], "--target", "price", "--hidden", "8", "--quiet"]
    train += ["-o", tmp_path / "m.mlpkit"]
    first = [*train, "--epochs", "3", "--checkpoint", checkpoint]
    assert main([str(arg) for arg in first]) == 0

    resume = ["--checkpoint", checkpoint, "--resume", checkpoint]
    status, _, _ = run_cli(capsys, *train, "--epochs", "5", *resume)

    assert status == 0
    assert MLP.load(checkpoint).history_.epochs == 5


# info: the loss setting


def settings_rows(model: MLP) -> dict[str, str]:
    """Render info's settings table wide enough for one line per setting."""
    buffer = io.StringIO()
    Console(file=buffer, width=200).print(settings_table(model))
    rows = {}
    for line in buffer.getvalue().splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == 3:
            rows[cells[0]] = cells[2]
    return rows


def test_info_marks_loss_unused_for_classifier(files):
    rows = settings_rows(MLP.load(files["classifier"]))

    assert rows["loss"] == "squared_error (not used by binary classification)"


def test_info_marks_loss_unused_for_multilabel(tmp_path, capsys):
    data = tmp_path / "labels.csv"
    frame = make_frame()
    frame["tag_a"] = (frame["x1"] > 0).astype(int)
    frame["tag_b"] = (frame["x2"] > 0).astype(int)
    frame.drop(columns=["label", "price"]).to_csv(data, index=False)
    model = tmp_path / "tags.mlpkit"
    arguments = ["train", data, "--target", "tag_a,tag_b", "--task", "multilabel"]
    status, _, _ = run_cli(capsys, *arguments, *FAST, "-o", model)
    assert status == 0

    rows = settings_rows(MLP.load(model))

    assert rows["loss"] == "squared_error (not used by multilabel classification)"


def test_info_keeps_loss_for_regressor(files):
    rows = settings_rows(MLP.load(files["regressor"]))

    assert rows["loss"] == "squared_error"


def test_info_marks_settings_of_other_choices(files):
    rows = settings_rows(MLP.load(files["regressor"]))

    assert rows["gamma"].endswith("(not used by constant)")
    assert rows["huber_delta"] == "1.0 (not used by squared_error)"
    assert rows["maxout_pieces"].endswith("(not used by relu)")


def test_info_leaves_settings_of_chosen_loss_unmarked(tmp_path, capsys, files):
    model = tmp_path / "huber.mlpkit"
    arguments = ["train", files["data"], "--target", "price", "--loss", "huber"]
    status, _, _ = run_cli(capsys, *arguments, *FAST, "-o", model)
    assert status == 0

    rows = settings_rows(MLP.load(model))

    assert rows["huber_delta"] == "1.0"
    assert rows["quantile"] == "0.5 (not used by huber)"


# Empty path options


@pytest.mark.parametrize(
    ("arguments", "option"),
    [
        (["train", "{data}", "--target", "price", "-o", ""], "--output/-o"),
        (["train", "{data}", "--target", "price", "--checkpoint", ""], "--checkpoint"),
        (["train", "{data}", "--target", "price", "--plot", ""], "--plot"),
        (["train", "{data}", "--target", "price", "--resume", ""], "--resume"),
        (["predict", "{regressor}", "{data}", "-o", ""], "--output/-o"),
        (["anomalies", "{autoencoder}", "{data}", "-o", ""], "--output/-o"),
        (["plot", "{regressor}", "-o", ""], "--output/-o"),
    ],
)
def test_empty_output_path_rejected(files, capsys, arguments, option):
    names = {key: str(path) for key, path in files.items()}
    arguments = [argument.format(**names) for argument in arguments]

    status, _, err = run_cli(capsys, *arguments)

    assert status == 2
    assert err.startswith(f"error: argument {option}: empty path; pass a file path")
    assert "directory" not in err


# One warning per ignored option


def test_train_warns_once_about_ignored_option(files, tmp_path, capsys):
    arguments = ["train", files["data"], "--target", "price", "--momentum", "0.5"]

    status, _, err = run_cli(capsys, *arguments, *FAST, "-o", tmp_path / "m.mlpkit")

    assert status == 0
    assert err.count("ignores --momentum") == 1


def test_invalid_setting_error_comes_without_warnings(files, capsys):
    arguments = ["train", files["data"], "--target", "price", "--momentum", "0.5"]

    status, _, err = run_cli(capsys, *arguments, "--epochs", "0")

    assert status == 2
    assert err.strip().splitlines() == [
        "error: --epochs must be an integer of at least 1; received: --epochs=0"
    ]




def test_error_in_fit_drops_earlier_warnings(tmp_path, capsys):
    # The constant column draws a DataWarning inside fit, and the huge
    # learning rate then makes training diverge: only the error is printed.
    data = tmp_path / "constant.csv"
    frame = make_frame()
    frame["constant"] = 1.0
    frame.to_csv(data, index=False)
    options = ["--optimizer", "sgd", "--learning-rate", "1e30", "--epochs", "3"]

    output = ["-o", tmp_path / "m.mlpkit"]
    arguments = ["train", data, "--target", "price", *options, *output]

    status, _, err = run_cli(capsys, *arguments)

    assert status == 2
    assert "training diverged" in err
    assert "warning" not in err
