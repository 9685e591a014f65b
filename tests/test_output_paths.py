"""Output paths: symlinks, FIFOs and devices, and outputs that would replace inputs."""

import errno
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlpkit.cli import main
from mlpkit.cli.output_paths import check_output_paths, is_same_file
from mlpkit.errors import ParameterError
from mlpkit.modelfile import write_atomically

FAST = ["--epochs", "2", "--hidden", "4", "--quiet"]

LONG_NAME = "a" * 300 + ".csv"
"""A file name over the 255-byte limit of common file systems."""

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX")


def write_bytes(data: bytes):
    return lambda file: file.write(data)


def run_cli(capsys, *args) -> tuple[int, str, str]:
    status = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """Train once on a small CSV and return the CSV and the model file."""
    folder = tmp_path_factory.mktemp("trained")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=40), "x2": rng.normal(size=40)})
    frame["label"] = np.where(frame["x1"] > 0, "yes", "no")
    data = folder / "train.csv"
    frame.to_csv(data, index=False)
    model = folder / "model.mlpkit"
    status = main(["train", str(data), "--target", "label", *FAST, "-o", str(model)])
    assert status == 0
    return data, model


@pytest.fixture(scope="module")
def autoencoder(trained, tmp_path_factory) -> Path:
    """Train an autoencoder once on the training CSV and return its model file."""
    model = tmp_path_factory.mktemp("autoencoder") / "autoencoder.mlpkit"
    status = main([
        "train", str(trained[0]), "--target", "label", "--autoencoder", *FAST,
        "-o", str(model),
    ])
    assert status == 0
    return model


def make_bad_output(kind: str, folder: Path) -> tuple[Path, str]:
    """Create an output path that ``stat`` rejects; return it and the OS's reason."""
    if kind == "symlink loop":
        (folder / "loopb").symlink_to("loopa")
        (folder / "loopa").symlink_to("loopb")
        return folder / "loopa", "too many levels of symbolic links"
    if kind == "under a file":
        (folder / "in.csv").write_text("x\n1\n")
        return folder / "in.csv" / "x.csv", "not a directory"
    return folder / LONG_NAME, "file name too long"


BAD_OUTPUT_KINDS = ["symlink loop", "under a file", "name too long"]


@pytest.fixture
def data_copy(trained, tmp_path) -> Path:
    """Return a copy of the training CSV in this test's directory."""
    copy = tmp_path / "data.csv"
    copy.write_bytes(trained[0].read_bytes())
    return copy


# write_atomically


def test_write_through_symlink_keeps_link(tmp_path):
    target = tmp_path / "real.csv"
    target.write_bytes(b"old")
    link = tmp_path / "link.csv"
    link.symlink_to("real.csv")

    write_atomically(link, write_bytes(b"new"))

    assert link.is_symlink()
    assert os.readlink(link) == "real.csv"
    assert target.read_bytes() == b"new"


def test_write_through_symlink_to_other_directory(tmp_path):
    target_directory = tmp_path / "target_directory"
    target_directory.mkdir()
    target = target_directory / "real.csv"
    target.write_bytes(b"old")
    link_directory = tmp_path / "links"
    link_directory.mkdir()
    (link_directory / "link.csv").symlink_to(target)

    write_atomically(link_directory / "link.csv", write_bytes(b"new"))

    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target_directory.iterdir()) == ["real.csv"]
    assert sorted(p.name for p in link_directory.iterdir()) == ["link.csv"]


def test_write_through_symlink_keeps_target_permissions(tmp_path):
    target = tmp_path / "real.csv"
    target.write_bytes(b"old")
    target.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(target)

    write_atomically(link, write_bytes(b"new"))

    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_write_through_dangling_symlink_creates_target(tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to("absent.csv")

    write_atomically(link, write_bytes(b"new"))

    assert link.is_symlink()
    assert (tmp_path / "absent.csv").read_bytes() == b"new"


def test_write_to_symlink_into_missing_directory(tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "missing" / "real.csv")

    with pytest.raises(ParameterError, match="is a symlink to .* does not exist"):
        write_atomically(link, write_bytes(b"new"))

    assert not (tmp_path / "missing").exists()


def test_write_to_fifo_rejected(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    with pytest.raises(ParameterError, match="is a FIFO, not a regular file") as caught:
        write_atomically(fifo, write_bytes(b"new"))

    assert repr(str(fifo)) in str(caught.value)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["fifo"]


def test_write_to_symlink_to_fifo_rejected(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    link = tmp_path / "link"
    link.symlink_to("fifo")

    with pytest.raises(ParameterError, match="is a FIFO"):
        write_atomically(link, write_bytes(b"new"))

    assert link.is_symlink()
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)


def test_write_to_device_rejected(tmp_path, monkeypatch):
    # A regular file that stat reports as a character device, as /dev/full is.
    path = tmp_path / "device"
    path.write_bytes(b"old")
    real_stat = os.stat

    def device_stat(name, *args, **kwargs):
        result = real_stat(name, *args, **kwargs)
        if os.fspath(name) != os.fspath(path):
            return result
        fields = list(result)
        fields[0] = stat.S_IFCHR | 0o666
        return os.stat_result(fields)

    monkeypatch.setattr(os, "stat", device_stat)

    with pytest.raises(ParameterError, match="is a character device, not a regular"):
        write_atomically(path, write_bytes(b"new"))

    monkeypatch.undo()
    assert path.read_bytes() == b"old"


def test_write_to_symlink_loop_rejected(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")

    with pytest.raises(ParameterError) as caught:
        write_atomically(tmp_path / "a", write_bytes(b"new"))

    assert "too many levels of symbolic links; pass another path" in str(caught.value)
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.__cause__.errno == errno.ELOOP
    assert (tmp_path / "a").is_symlink()
    assert (tmp_path / "b").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_write_under_regular_file_rejected(tmp_path):
    parent = tmp_path / "in.csv"
    parent.write_bytes(b"data")

    with pytest.raises(ParameterError, match="not a directory; pass another"):
        write_atomically(parent / "x.csv", write_bytes(b"new"))

    assert parent.read_bytes() == b"data"


def test_write_name_too_long_rejected(tmp_path):
    with pytest.raises(ParameterError, match="file name too long; pass another"):
        write_atomically(tmp_path / LONG_NAME, write_bytes(b"new"))

    assert list(tmp_path.iterdir()) == []


def test_write_name_near_limit(tmp_path):
    # 250 bytes: allowed, but too long to prefix a dot and append a suffix.
    path = tmp_path / ("b" * 246 + ".csv")

    write_atomically(path, write_bytes(b"new"))

    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


# check_output_paths


def test_same_file_by_resolved_path(tmp_path):
    (tmp_path / "sub").mkdir()

    assert is_same_file(tmp_path / "out.csv", tmp_path / "sub" / ".." / "out.csv")


def test_same_file_by_hard_link(tmp_path):
    first = tmp_path / "first.csv"
    first.write_text("a\n")
    second = tmp_path / "second.csv"
    os.link(first, second)

    assert is_same_file(first, second)


def test_different_missing_files_not_same(tmp_path):
    assert not is_same_file(tmp_path / "one.csv", tmp_path / "two.csv")


def test_missing_input_is_not_compared(tmp_path):
    output = tmp_path / "iris"

    check_output_paths({"--output": output}, {"the data file": output})

    assert not output.exists()


def test_output_is_stdout_rejected(tmp_path, monkeypatch):
    # Make file descriptor 1 look like this regular file, as after "> out.csv".
    stdout_file = tmp_path / "out.csv"
    stdout_file.write_text("")
    real_fstat = os.fstat

    def redirected_fstat(descriptor):
        if descriptor == 1:
            return os.stat(stdout_file)
        return real_fstat(descriptor)

    monkeypatch.setattr(os, "fstat", redirected_fstat)

    with pytest.raises(ParameterError, match="is the standard output; leave out"):
        check_output_paths({"--output": stdout_file}, stdout_advice="leave out -o")


# predict


def test_predict_to_fifo_rejected(trained, tmp_path, capsys):
    data, model = trained
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    status, _, err = run_cli(capsys, "predict", model, data, "-o", fifo)

    assert status == 2
    assert "is a FIFO, not a regular file" in err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_predict_through_symlink(trained, tmp_path, capsys):
    data, model = trained
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to("real.csv")

    status, _, _ = run_cli(capsys, "predict", model, data, "-o", link)

    assert status == 0
    assert link.is_symlink()
    assert target.read_text().startswith("label,probability_")


def test_predict_dash_writes_stdout(trained, tmp_path, capsys, monkeypatch):
    data, model = trained
    monkeypatch.chdir(tmp_path)

    status, out, _ = run_cli(capsys, "predict", model, data, "-o", "-")

    assert status == 0
    assert out.startswith("label,probability_")
    assert list(tmp_path.iterdir()) == []


def test_predict_over_model_rejected(trained, tmp_path, capsys):
    data, model = trained
    copy = tmp_path / "model.mlpkit"
    copy.write_bytes(model.read_bytes())

    status, _, err = run_cli(capsys, "predict", copy, data, "-o", copy)

    assert status == 2
    assert f"--output {copy} is the model file" in err
    assert copy.read_bytes() == model.read_bytes()


def test_predict_over_data_rejected(trained, data_copy, capsys):
    _, model = trained
    before = data_copy.read_bytes()

    status, _, err = run_cli(capsys, "predict", model, data_copy, "-o", data_copy)

    assert status == 2
    assert "is the data file; choose another output path" in err
    assert data_copy.read_bytes() == before


# train


def test_train_over_data_rejected(data_copy, capsys):
    before = data_copy.read_bytes()

    status, _, err = run_cli(
        capsys, "train", data_copy, "--target", "label", *FAST, "-o", data_copy
    )

    assert status == 2
    assert f"--output {data_copy} is the training data file" in err
    assert data_copy.read_bytes() == before


def test_train_over_data_by_symlink_rejected(data_copy, tmp_path, capsys):
    link = tmp_path / "link.csv"
    link.symlink_to(data_copy)
    before = data_copy.read_bytes()

    status, _, err = run_cli(
        capsys, "train", data_copy, "--target", "label", *FAST, "-o", link
    )

    assert status == 2
    assert "is the training data file" in err
    assert data_copy.read_bytes() == before


def test_train_checkpoint_same_as_output_rejected(data_copy, tmp_path, capsys):
    same = tmp_path / "same.mlpkit"

    status, _, err = run_cli(
        capsys, "train", data_copy, "--target", "label", *FAST,
        "--checkpoint", same, "-o", same,
    )

    assert status == 2
    assert "are the same file" in err
    assert not same.exists()


def test_train_plot_same_as_output_rejected(data_copy, tmp_path, capsys):
    same = tmp_path / "curves.png"

    status, _, err = run_cli(
        capsys, "train", data_copy, "--target", "label", *FAST,
        "--plot", same, "-o", same,
    )

    assert status == 2
    assert f"--output {same} and --plot {same} are the same file" in err


def test_train_resume_in_place(data_copy, tmp_path, capsys):
    checkpoint = tmp_path / "run.ckpt"
    first = [
        "train", data_copy, "--target", "label", *FAST,
        "--checkpoint", checkpoint, "-o", tmp_path / "first.mlpkit",
    ]
    assert run_cli(capsys, *first)[0] == 0

    status, _, err = run_cli(
        capsys, "train", data_copy, "--target", "label", "--epochs", "3",
        "--hidden", "4", "--quiet", "--resume", checkpoint,
        "--checkpoint", checkpoint, "-o", tmp_path / "second.mlpkit",
    )

    assert status == 0, err
    assert (tmp_path / "second.mlpkit").is_file()


def test_train_output_over_resume_rejected(data_copy, tmp_path, capsys):
    checkpoint = tmp_path / "run.ckpt"
    checkpoint.write_bytes(b"checkpoint")

    status, _, err = run_cli(
        capsys, "train", data_copy, "--target", "label", *FAST,
        "--resume", checkpoint, "-o", checkpoint,
    )

    assert status == 2
    assert f"--output {checkpoint} and --resume {checkpoint}" in err
    assert checkpoint.read_bytes() == b"checkpoint"


def test_train_output_over_resume_with_checkpoint_rejected(
    data_copy, tmp_path, capsys
):
    checkpoint = tmp_path / "run.ckpt"
    checkpoint.write_bytes(b"checkpoint")

    status, _, err = run_cli(
        capsys, "train", data_copy, "--target", "label", *FAST,
        "--resume", checkpoint, "--checkpoint", tmp_path / "new.ckpt",
        "-o", checkpoint,
    )

    assert status == 2
    assert "is the --resume checkpoint" in err
    assert checkpoint.read_bytes() == b"checkpoint"


def test_train_output_named_like_dataset(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)

    status, _, err = run_cli(capsys, "train", "iris", *FAST, "-o", "iris")

    assert status == 0, err
    assert (tmp_path / "iris").is_file()


# anomalies and plot


def test_anomalies_over_data_rejected(data_copy, tmp_path, capsys):
    model = tmp_path / "autoencoder.mlpkit"
    train = [
        "train", data_copy, "--target", "label", "--autoencoder", *FAST, "-o", model,
    ]
    assert run_cli(capsys, *train)[0] == 0
    before = data_copy.read_bytes()

    status, _, err = run_cli(capsys, "anomalies", model, data_copy, "-o", data_copy)

    assert status == 2
    assert "is the data file" in err
    assert data_copy.read_bytes() == before


def test_plot_over_model_rejected(trained, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    data, model = trained
    copy = tmp_path / "model.png"
    copy.write_bytes(model.read_bytes())

    status, _, err = run_cli(capsys, "plot", copy, data, "-o", copy)

    assert status == 2
    assert "is the model file" in err
    assert copy.read_bytes() == model.read_bytes()


# every output option: paths that stat rejects, and "-"

OUTPUT_OPTIONS = {
    "predict": "--output",
    "train": "--output",
    "train checkpoint": "--checkpoint",
    "train plot": "--plot",
    "anomalies": "--output",
    "plot": "--output",
    "plot importance": "--output",
}


def command_writing(name: str, path, trained, autoencoder, folder: Path) -> list:
    """Return the arguments of command ``name`` with its output option set to ``path``."""
    data, model = trained
    train = ["train", data, "--target", "label", *FAST]
    other_model = folder / "other.mlpkit"
    commands = {
        "predict": ["predict", model, data, "-o", path],
        "train": [*train, "-o", path],
        "train checkpoint": [*train, "-o", other_model, "--checkpoint", path],
        "train plot": [*train, "-o", other_model, "--plot", path],
        "anomalies": ["anomalies", autoencoder, data, "-o", path],
        "plot": ["plot", model, "-o", path],
        "plot importance": ["plot", model, "--importance", "-o", path],
    }
    return commands[name]


@pytest.mark.parametrize("kind", BAD_OUTPUT_KINDS)
@pytest.mark.parametrize("command", list(OUTPUT_OPTIONS))
def test_unwritable_output_path_rejected(
    command, kind, trained, autoencoder, tmp_path, capsys
):
    path, reason = make_bad_output(kind, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    arguments = command_writing(command, path, trained, autoencoder, tmp_path)

    status, _, err = run_cli(capsys, *arguments)

    option = OUTPUT_OPTIONS[command]
    assert status == 2
    assert f"cannot write {option} {path}: {reason}; pass another path" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    ("command", "content"),
    [
        ("train", "the model"),
        ("train checkpoint", "the checkpoint"),
        ("train plot", "the learning curves"),
        ("plot", "the plot"),
        ("plot importance", "the plot"),
    ],
)
def test_dash_for_file_output_rejected(
    command, content, trained, autoencoder, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    arguments = command_writing(command, "-", trained, autoencoder, tmp_path)

    status, out, err = run_cli(capsys, *arguments)

    option = OUTPUT_OPTIONS[command]
    assert status == 2
    assert (
        f"{option} - would write {content} to standard output; pass a file path"
        in err
    )
    assert out == ""
    assert list(tmp_path.iterdir()) == []


def test_anomalies_dash_writes_stdout(
    trained, autoencoder, tmp_path, capsys, monkeypatch
):
    data, _ = trained
    monkeypatch.chdir(tmp_path)

    status, out, err = run_cli(capsys, "anomalies", autoencoder, data, "-o", "-")

    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "rank,row,reconstruction_error"
    assert len(lines) == 1 + len(pd.read_csv(data))
    assert "most unusual rows" in err
    assert list(tmp_path.iterdir()) == []


def test_anomalies_to_stdout_file_rejected(
    trained, autoencoder, tmp_path, capsys, monkeypatch
):
    # Make file descriptor 1 look like this regular file, as after "> out.csv".
    data, _ = trained
    stdout_file = tmp_path / "out.csv"
    stdout_file.write_text("")
    real_fstat = os.fstat

    def redirected_fstat(descriptor):
        if descriptor == 1:
            return os.stat(stdout_file)
        return real_fstat(descriptor)

    monkeypatch.setattr(os, "fstat", redirected_fstat)

    status, _, err = run_cli(
        capsys, "anomalies", autoencoder, data, "-o", stdout_file
    )

    assert status == 2
    assert "is the standard output; pass --output - to write the scores" in err
    assert stdout_file.read_text() == ""


@pytest.mark.parametrize("option", ["--output", "--checkpoint", "--plot"])
def test_output_in_missing_directory_rejected(tmp_path, option):
    path = tmp_path / "missing" / "file.out"

    with pytest.raises(ParameterError, match="of " + option + " .* not found"):
        check_output_paths({option: path})
