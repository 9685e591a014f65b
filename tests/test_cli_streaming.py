"""The ``mlpkit train`` streaming options: choosing streaming, .npy data, errors."""

import argparse

import numpy as np
import pandas as pd
import pytest

from mlpkit.cli import main
from mlpkit.cli import parser as cli_parser
from mlpkit.model import MLP

FAST = ["--epochs", "3", "--hidden", "8"]
N_ROWS = 600


def write_npy(tmp_path):
    """Write four features and, in the last column, a noisy linear target."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(N_ROWS, 4))
    target = features @ [1.0, -2.0, 0.5, 0.0] + 0.1 * rng.normal(size=N_ROWS)
    path = tmp_path / "data.npy"
    np.save(path, np.column_stack([features, target]).astype(np.float32))
    return path


def write_csv(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x": rng.normal(size=N_ROWS), "color": rng.choice(["r", "g"], N_ROWS)}
    )
    frame["label"] = np.where(frame["x"] + (frame["color"] == "r") > 0.5, "yes", "no")
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


def run_cli(capsys, *args):
    status = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_train_streams_npy(tmp_path, capsys):
    data = write_npy(tmp_path)
    output = tmp_path / "model.mlpkit"

    status, out, _ = run_cli(
        capsys, "train", data, "--streaming", "always", *FAST, "-o", output
    )

    assert status == 0
    assert f"streamed {N_ROWS} rows of {data}" in out
    assert "test (" in out
    model = MLP.load(output)
    assert model.task_ == "regression"
    assert model.preprocessor_.feature_names_in_ == ["x0", "x1", "x2", "x3"]


def test_train_streams_file_above_threshold(tmp_path, capsys):
    data = write_csv(tmp_path)
    output = tmp_path / "model.mlpkit"

    status, out, _ = run_cli(
        capsys,
        "train",
        data,
        "--target",
        "label",
        "--stream-above",
        "0.001",
        *FAST,
        "-o",
        output,
    )

    assert status == 0
    assert "streamed" in out
    assert MLP.load(output).classes_.tolist() == ["no", "yes"]


def test_train_keeps_small_file_in_memory(tmp_path, capsys):
    data = write_csv(tmp_path)

    status, out, _ = run_cli(
        capsys,
        "train",
        data,
        "--target",
        "label",
        *FAST,
        "-o",
        tmp_path / "model.mlpkit",
    )

    assert status == 0
    assert "streamed" not in out


def test_train_reads_npy_in_memory(tmp_path, capsys):
    data = write_npy(tmp_path)
    output = tmp_path / "model.mlpkit"

    status, out, _ = run_cli(
        capsys,
        "train",
        data,
        "--target",
        "0",
        "--streaming",
        "never",
        *FAST,
        "-o",
        output,
    )

    assert status == 0
    assert "streamed" not in out
    model = MLP.load(output)
    assert model.preprocessor_.n_features_in_ == 4
    assert model.target_encoder_.target_names_ == ["target"]


def test_streamed_model_evaluates_csv(tmp_path, capsys):
    data = write_csv(tmp_path)
    output = tmp_path / "model.mlpkit"
    run_cli(
        capsys,
        "train",
        data,
        "--target",
        "label",
        "--streaming",
        "always",
        "--epochs",
        "20",
        "--hidden",
        "8",
        "-o",
        output,
    )

    status, out, _ = run_cli(capsys, "evaluate", output, data)

    assert status == 0
    assert "accuracy" in out


def test_train_block_rows_option(tmp_path, capsys):
    data = write_npy(tmp_path)

    status, out, _ = run_cli(
        capsys,
        "train",
        data,
        "--streaming",
        "always",
        "--block-rows",
        "50",
        *FAST,
        "-o",
        tmp_path / "model.mlpkit",
    )

    assert status == 0
    assert "in 12 blocks of 50 rows" in out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["digits", "--streaming", "always"], "--streaming always needs a CSV"),
        (["{npy}", "--streaming", "always", "--checkpoint", "{tmp}/c"], "--resume"),
        (["{npy}", "--streaming", "always", "--target", "price"], "given by index"),
        (["{npy}", "--streaming", "always", "--block-rows", "8"], "--batch-size=32"),
    ],
)
def test_train_streaming_rejects_invalid_options(tmp_path, capsys, options, message):
    data = write_npy(tmp_path)
    arguments = [option.format(npy=data, tmp=tmp_path) for option in options]

    status, _, err = run_cli(
        capsys, "train", *arguments, *FAST, "-o", tmp_path / "model.mlpkit"
    )

    assert status == 2
    assert message in err


def test_predict_rejects_npy_with_clear_error(tmp_path, capsys):
    data = write_npy(tmp_path)
    output = tmp_path / "model.mlpkit"
    run_cli(capsys, "train", data, "--streaming", "always", *FAST, "-o", output)

    status, _, err = run_cli(capsys, "predict", output, data)

    assert status == 2
    assert "only 'mlpkit train' reads" in err


@pytest.mark.parametrize("text", ["-1", "inf", "nan", "big"])
def test_parse_size_mib_invalid(text):
    with pytest.raises(argparse.ArgumentTypeError, match="invalid size"):
        cli_parser.parse_size_mib(text)
