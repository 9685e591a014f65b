"""Tests for the mlpkit command line, in-process through main() and as a subprocess."""

import argparse
import io
import json
import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from mlpkit.cli import commands as cli_commands
from mlpkit.cli import parser as cli_parser
from mlpkit.cli import main
from mlpkit.cli.display import LogLineHandler
from mlpkit.data import read_csv
from mlpkit.errors import DataError
from mlpkit.model import MLP

SRC = Path(__file__).resolve().parents[1] / "src"
FAST = ["--epochs", "5", "--hidden", "8"]
N_ROWS = 120


def make_frame(seed: int = 0) -> pd.DataFrame:
    """Return numeric, text and missing inputs with a binary and two numeric targets."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=N_ROWS)
    x2 = rng.normal(size=N_ROWS)
    color = rng.choice(["red", "green", "blue"], size=N_ROWS)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "color": color})
    frame["label"] = np.where(x1 + (color == "red") > 0.3, "yes", "no")
    frame["price"] = 3 * x1 - x2 + rng.normal(scale=0.1, size=N_ROWS)
    frame["cost"] = x1 + x2
    frame.loc[3, "x1"] = np.nan
    frame.loc[7, "color"] = None
    return frame


def write_classification_csv(path: Path) -> Path:
    make_frame().drop(columns=["price", "cost"]).to_csv(path, index=False)
    return path


def write_regression_csv(path: Path) -> Path:
    make_frame().drop(columns=["label"]).to_csv(path, index=False)
    return path


def run_cli(capsys, *args) -> tuple[int, str, str]:
    status = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def run_subprocess(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(SRC), *filter(None, [env.get("PYTHONPATH")])]
    )
    return subprocess.run(
        [sys.executable, "-m", "mlpkit", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> tuple[Path, Path]:
    """Train once on the classification CSV; return the CSV and the model file."""
    folder = tmp_path_factory.mktemp("classifier")
    data = write_classification_csv(folder / "train.csv")
    model = folder / "model.mlpkit"
    status = main(["train", str(data), "--target", "label", *FAST, "-o", str(model)])
    assert status == 0
    return data, model


# Parsing helpers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100", (100,)),
        ("64,32", (64, 32)),
        (" 8 , 4 ", (8, 4)),
        ("none", ()),
        ("None", ()),
    ],
)
def test_parse_hidden_layers_valid(text, expected):
    assert cli_parser.parse_hidden_layers(text) == expected


@pytest.mark.parametrize("text", ["0", "-3", "a", "64,,32", "1.5"])
def test_parse_hidden_layers_invalid(text):
    with pytest.raises(argparse.ArgumentTypeError, match="invalid layer size"):
        cli_parser.parse_hidden_layers(text)


@pytest.mark.parametrize("text", ["-0.1", "1", "1.5", "half", "nan"])
def test_parse_fraction_invalid(text):
    with pytest.raises(argparse.ArgumentTypeError, match="invalid fraction"):
        cli_parser.parse_fraction(text)


def test_parse_target_names_flattens():
    names = cli_parser.parse_target_names(["price,cost", " size "])

    assert names == ["price", "cost", "size"]


def test_split_test_rows_stratified():
    labels = pd.DataFrame({"y": ["a"] * 80 + ["b"] * 20})
    train_rows, test_rows = cli_commands.split_test_rows(labels, 0.25, "auto", seed=0)
    test_labels = labels["y"].to_numpy()[test_rows]

    assert len(test_rows) == 25
    assert (test_labels == "b").sum() == 5
    assert np.intersect1d(train_rows, test_rows).size == 0
    assert np.union1d(train_rows, test_rows).tolist() == list(range(100))


def test_split_test_rows_too_few():
    target = pd.DataFrame({"y": [1.0, 2.0]})

    with pytest.raises(DataError, match="too few"):
        cli_commands.split_test_rows(target, 0.6, "auto", seed=0)


# Usage


def test_help_exits_zero(capsys):
    status, out, _ = run_cli(capsys, "train", "--help")

    assert status == 0
    assert "--test-fraction" in out
    assert "default: 0.2" in out


def test_usage_error_exits_two(capsys):
    status, _, err = run_cli(capsys, "train", "--epochs", "many")

    assert status == 2
    assert "--epochs" in err


def test_missing_command_exits_two(capsys):
    status, _, _ = run_cli(capsys)

    assert status == 2


# End to end


def test_train_prints_summary(classifier, tmp_path, capsys):
    data, _ = classifier
    model = tmp_path / "again.mlpkit"
    status, out, _ = run_cli(
        capsys, "train", data, "--target", "label", *FAST, "-o", model
    )

    assert status == 0
    assert "held-out metrics" in out
    assert "test (24 rows)" in out
    assert "accuracy" in out
    assert "best epoch" in out
    assert f"saved model to {model}" in out
    assert model.is_file()


def test_train_global_flags_before_command(
    classifier, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(cli_commands, "stderr_is_terminal", lambda: True)
    data, _ = classifier
    model = tmp_path / "quiet.mlpkit"
    status, _, err = run_cli(
        capsys, "--quiet", "train", data, "--target", "label", *FAST, "-o", model
    )

    assert status == 0
    assert "epoch 5/5" not in err
    assert model.is_file()


def test_predict_output_file(classifier, tmp_path, capsys):
    data, model = classifier
    output = tmp_path / "predictions.csv"
    status, _, err = run_cli(capsys, "predict", model, data, "--output", output)
    predictions = pd.read_csv(output)
    probabilities = predictions[["probability_no", "probability_yes"]].sum(axis=1)

    assert status == 0
    assert predictions.columns.tolist() == [
        "label",
        "probability_no",
        "probability_yes",
    ]
    assert len(predictions) == N_ROWS
    assert set(predictions["label"]) <= {"yes", "no"}
    assert np.allclose(probabilities, 1.0, atol=1e-5)
    assert f"wrote {N_ROWS} predictions" in err


def test_predict_stdout_matches_api(classifier, capsys):
    data, model = classifier
    status, out, _ = run_cli(capsys, "predict", model, data)
    predictions = pd.read_csv(io.StringIO(out))
    expected = MLP.load(model).predict(read_csv(data))

    assert status == 0
    assert predictions["label"].tolist() == expected.tolist()


def test_predict_leaves_no_temporary_file(classifier, tmp_path, capsys):
    data, model = classifier
    output = tmp_path / "predictions.csv"
    run_cli(capsys, "predict", model, data, "-o", output)

    assert sorted(path.name for path in tmp_path.iterdir()) == ["predictions.csv"]


def test_predict_unseen_category_warns_once(classifier, tmp_path, capsys):
    data, model = classifier
    frame = pd.read_csv(data).drop(columns=["label"])
    frame.loc[0, "color"] = "purple"
    new = tmp_path / "new.csv"
    frame.to_csv(new, index=False)
    status, _, err = run_cli(capsys, "predict", model, new)
    warning_lines = [line for line in err.splitlines() if line.startswith("warning:")]

    assert status == 0
    assert len(warning_lines) == 1
    assert "purple" in warning_lines[0]


def test_evaluate_prints_table(classifier, capsys):
    data, model = classifier
    status, out, _ = run_cli(capsys, "evaluate", model, data)

    assert status == 0
    assert "accuracy" in out
    assert "binary cross entropy" in out
    assert "rows" in out
    assert str(N_ROWS) in out


def test_evaluate_loss_matches_api(classifier, capsys):
    data, model = classifier
    _, out, _ = run_cli(capsys, "evaluate", model, data)
    frame = read_csv(data)
    scores = MLP.load(model).evaluate(frame.drop(columns=["label"]), frame["label"])

    assert f"{scores['loss']:.4g}" in out
    assert f"{scores['accuracy']:.4g}" in out


def test_info_describes_model(classifier, capsys):
    _, model = classifier
    status, out, _ = run_cli(capsys, "info", model)

    assert status == 0
    assert "hidden 1" in out
    assert "sigmoid" in out
    assert "binary" in out
    assert "categorical" in out
    assert "color" in out
    assert "epochs run: 5" in out
    assert "converged: no" in out
    assert "learning_rate" in out


def test_train_regression(tmp_path, capsys):
    data = write_regression_csv(tmp_path / "train.csv")
    status, out, _ = run_cli(
        capsys, "train", data, "--target", "price", *FAST, "-o", tmp_path / "m.mlpkit"
    )

    assert status == 0
    assert "RMSE" in out
    assert "R²" in out


@pytest.mark.parametrize(
    "target_options",
    [["--target", "price", "--target", "cost"], ["--target", "price,cost"]],
)
def test_train_multi_output(tmp_path, capsys, target_options):
    data = write_regression_csv(tmp_path / "train.csv")
    model = tmp_path / "m.mlpkit"
    train_status, _, _ = run_cli(
        capsys, "train", data, *target_options, *FAST, "-o", model
    )
    predict_status, out, _ = run_cli(capsys, "predict", model, data)
    predictions = pd.read_csv(io.StringIO(out))

    assert train_status == 0
    assert predict_status == 0
    assert predictions.columns.tolist() == ["price", "cost"]
    assert len(predictions) == N_ROWS


def test_train_dataset_name(tmp_path, capsys):
    model = tmp_path / "iris.mlpkit"
    status, out, _ = run_cli(capsys, "train", "iris", *FAST, "-o", model)
    info_status, info, _ = run_cli(capsys, "info", model)

    assert status == 0
    assert "test (30 rows)" in out
    assert info_status == 0
    assert "setosa" in info


def test_train_file_wins_over_dataset(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_classification_csv(tmp_path / "iris")
    status, out, _ = run_cli(capsys, "train", "iris", "--target", "label", *FAST)

    assert status == 0
    assert "test (24 rows)" in out
    assert (tmp_path / "model.mlpkit").is_file()


def test_train_without_test_split(classifier, tmp_path, capsys):
    data, _ = classifier
    status, out, _ = run_cli(
        capsys,
        "train",
        data,
        "--target",
        "label",
        *FAST,
        "--test-fraction",
        "0",
        "-o",
        tmp_path / "m.mlpkit",
    )

    assert status == 0
    assert "test (" not in out
    assert "validation (epoch" in out


# Progress and warnings


@pytest.mark.parametrize(("flags", "shown"), [([], True), (["--quiet"], False)])
def test_progress_only_without_quiet(
    classifier, tmp_path, capsys, monkeypatch, flags, shown
):
    monkeypatch.setattr(cli_commands, "stderr_is_terminal", lambda: True)
    data, _ = classifier
    model = tmp_path / "m.mlpkit"
    status, _, err = run_cli(
        capsys, "train", data, "--target", "label", *FAST, *flags, "-o", model
    )

    assert status == 0
    assert ("epoch 5/5" in err) == shown


def test_no_progress_off_terminal(classifier, tmp_path, capsys):
    data, _ = classifier
    status, _, err = run_cli(
        capsys, "train", data, "--target", "label", *FAST, "-o", tmp_path / "m.mlpkit"
    )

    assert status == 0
    assert "epoch 5/5" not in err


def test_convergence_warning_one_line(classifier, tmp_path, capsys):
    data, _ = classifier
    status, out, err = run_cli(
        capsys,
        "train",
        data,
        "--target",
        "label",
        "--epochs",
        "2",
        "--patience",
        "50",
        "-o",
        tmp_path / "m.mlpkit",
    )
    warning_lines = [line for line in err.splitlines() if "--epochs" in line]

    assert status == 0
    assert len(warning_lines) == 1
    assert warning_lines[0].startswith("warning: training reached --epochs=2")
    assert "ConvergenceWarning" not in err
    assert "warnings.warn" not in err
    assert "converged: no" in out


# Bad input


def changed_frame(target: str, column: str, row: int, value) -> pd.DataFrame:
    """Return the data with ``target`` as the only target and one cell changed."""
    others = [name for name in ("label", "price", "cost") if name != target]
    frame = make_frame().drop(columns=others)
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return frame


BAD_TRAINING_DATA = {
    "empty": (b"", "label", ["empty"]),
    "header only": (b"x1,label\n", "label", ["no data rows"]),
    "target typo": (None, "lable", ["'lable' not found", "did you mean 'label'"]),
    "single class": (
        b"x,label\n1,a\n2,a\n3,a\n4,a\n5,a\n",
        "label",
        ["single class", "'label'"],
    ),
    "text in numeric": (
        changed_frame("label", "x2", 57, "abc"),
        "label",
        ["'x2'", "'abc'", "row 58", "line 59"],
    ),
    "nan target": (
        changed_frame("price", "price", 9, np.nan),
        "price",
        ["missing a value", "row 10"],
    ),
    "infinite target": (
        changed_frame("price", "price", 0, np.inf),
        "price",
        ["infinite", "row 1"],
    ),
    "empty column": (
        make_frame().drop(columns=["price", "cost"]).assign(blank=np.nan),
        "label",
        ["'blank'", "no values"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_TRAINING_DATA))
def test_train_bad_data(tmp_path, capsys, case):
    content, target, words = BAD_TRAINING_DATA[case]
    data = tmp_path / "data.csv"
    if content is None:
        write_classification_csv(data)
    elif isinstance(content, bytes):
        data.write_bytes(content)
    else:
        content.to_csv(data, index=False)
    status, _, err = run_cli(capsys, "train", data, "--target", target, *FAST)

    assert status == 2
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    for word in words:
        assert word in err
    assert not (tmp_path / "model.mlpkit").exists()


def test_train_missing_file(tmp_path, capsys):
    status, _, err = run_cli(capsys, "train", tmp_path / "nosuch.csv", "--target", "y")

    assert status == 2
    assert "not found" in err
    assert "nosuch.csv" in err


def test_train_unknown_dataset_suggests(capsys):
    status, _, err = run_cli(capsys, "train", "irsi")

    assert status == 2
    assert "did you mean 'iris'" in err


def test_train_without_target_lists_columns(classifier, capsys):
    data, _ = classifier
    status, _, err = run_cli(capsys, "train", data)

    assert status == 2
    assert "--target" in err
    assert "'x1', 'x2', 'color', 'label'" in err


def test_train_invalid_setting(classifier, capsys):
    data, _ = classifier
    status, _, err = run_cli(
        capsys, "train", data, "--target", "label", "--epochs", "0"
    )

    assert status == 2
    assert "--epochs" in err


def test_train_output_directory_missing(classifier, tmp_path, capsys):
    data, _ = classifier
    output = tmp_path / "nosuch" / "m.mlpkit"
    status, _, err = run_cli(capsys, "train", data, "--target", "label", "-o", output)

    assert status == 2
    assert "not found" in err
    assert "nosuch" in err


def test_train_diverging_is_clean_error(classifier, tmp_path, capsys):
    data, _ = classifier
    status, _, _ = run_cli(
        capsys,
        "train",
        data,
        "--target",
        "label",
        "--optimizer",
        "sgd",
        "--learning-rate",
        "1e8",
        *FAST,
        "-o",
        tmp_path / "m.mlpkit",
    )

    assert status == 2


def test_predict_lacks_training_column(classifier, tmp_path, capsys):
    data, model = classifier
    new = tmp_path / "new.csv"
    pd.read_csv(data).drop(columns=["x2"]).to_csv(new, index=False)
    status, _, err = run_cli(capsys, "predict", model, new)

    assert status == 2
    assert "'x2'" in err
    assert "trained on" in err


def test_predict_output_is_directory(classifier, tmp_path, capsys):
    data, model = classifier
    status, _, err = run_cli(capsys, "predict", model, data, "-o", tmp_path)

    assert status == 2
    assert "is a directory" in err


def test_evaluate_lacks_target(classifier, tmp_path, capsys):
    data, model = classifier
    new = tmp_path / "new.csv"
    pd.read_csv(data).drop(columns=["label"]).to_csv(new, index=False)
    status, _, err = run_cli(capsys, "evaluate", model, new)

    assert status == 2
    assert "'label'" in err
    assert "target" in err


def damage_random(model: Path, path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(512))


def damage_truncate(model: Path, path: Path) -> None:
    content = model.read_bytes()
    path.write_bytes(content[: len(content) // 2])


def damage_newer_format(model: Path, path: Path) -> None:
    with zipfile.ZipFile(model) as source, zipfile.ZipFile(path, "w") as target:
        for member in source.infolist():
            content = source.read(member.filename)
            if member.filename == "metadata.json":
                metadata = json.loads(content)
                metadata["format_version"] = 999
                content = json.dumps(metadata).encode()
            target.writestr(member.filename, content)


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (damage_random, ["not an mlpkit model file"]),
        (damage_truncate, ["truncated"]),
        (damage_newer_format, ["format version 999", "upgrade mlpkit"]),
    ],
)
@pytest.mark.parametrize("command", ["info", "predict", "evaluate"])
def test_bad_model_file(classifier, tmp_path, capsys, damage, words, command):
    data, model = classifier
    bad = tmp_path / "bad.mlpkit"
    damage(model, bad)
    data_args = [] if command == "info" else [data]
    status, _, err = run_cli(capsys, command, bad, *data_args)

    assert status == 2
    assert err.startswith("error: ")
    for word in words:
        assert word in err


def test_missing_model_file(classifier, tmp_path, capsys):
    data, _ = classifier
    status, _, err = run_cli(capsys, "predict", tmp_path / "nosuch.mlpkit", data)

    assert status == 2
    assert "nosuch.mlpkit" in err
    assert "not found" in err


@pytest.mark.parametrize(
    "argv",
    [["--debug", "info", "nosuch.mlpkit"], ["info", "nosuch.mlpkit", "--debug"]],
)
def test_debug_shows_traceback_exits_two(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)

    status, _, err = run_cli(capsys, *argv)

    assert status == 2
    assert "Traceback" in err
    assert "ModelFileError" in err
    assert err.strip().splitlines()[-1].startswith("error: model file")


def test_debug_shows_log_records(classifier, tmp_path, capsys):
    data, _ = classifier
    status, _, err = run_cli(
        capsys,
        "--debug",
        "train",
        data,
        "--target",
        "label",
        *FAST,
        "-o",
        tmp_path / "m.mlpkit",
    )

    assert status == 0
    assert "debug: epoch 1" in err


def test_library_warning_is_one_line(classifier, tmp_path, capsys, monkeypatch):
    data, _ = classifier
    monkeypatch.setenv("MLPKIT_COMPILED", "maybe")
    monkeypatch.setattr("mlpkit.compiled._warned_values", set())
    # The variable is read only for networks large enough for the compiled step.
    status, _, err = run_cli(
        capsys,
        "train",
        data,
        "--target",
        "label",
        *["--epochs", "1", "--hidden", "400,250"],
        "-o",
        tmp_path / "m.mlpkit",
    )

    assert status == 0
    lines = [line for line in err.splitlines() if "MLPKIT_COMPILED" in line]
    assert lines == [
        "warning: MLPKIT_COMPILED='maybe' is invalid, so the compiled Adam step "
        "stays on. Set it to 0, false, no or off to turn the step off."
    ]


def test_log_lines_join_message_lines():
    stream = io.StringIO()
    handler = LogLineHandler(Console(file=stream, width=40))
    record = logging.LogRecord(
        "mlpkit.test", logging.INFO, __file__, 1, "first\nsecond", None, None
    )

    handler.emit(record)

    assert stream.getvalue() == "info: first second\n"


def test_log_lines_keep_traceback():
    stream = io.StringIO()
    handler = LogLineHandler(Console(file=stream, width=40))
    try:
        raise ValueError("bad value")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "mlpkit.test", logging.DEBUG, __file__, 1, "failed with", None, exc_info
    )

    handler.emit(record)

    lines = stream.getvalue().splitlines()
    assert lines[0] == "debug: failed with"
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: bad value"


def test_main_restores_logger(classifier, capsys):
    _, model = classifier
    package_logger = logging.getLogger("mlpkit")
    handlers = list(package_logger.handlers)
    level = package_logger.level
    run_cli(capsys, "--debug", "info", model)

    assert package_logger.handlers == handlers
    assert package_logger.level == level


def test_interrupt_exits_130(classifier, capsys, monkeypatch):
    def interrupt(text, sep=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_commands, "read_table", interrupt)
    data, _ = classifier
    status, _, err = run_cli(capsys, "train", data, "--target", "label")

    assert status == 130
    assert "interrupted" in err


# Subprocess runs of python -m mlpkit: exit status and no traceback


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "nosuch.mlpkit", "x.csv"],
        ["train", "empty.csv", "--target", "y"],
        ["train", "--hidden", "a,b"],
    ],
)
def test_subprocess_error_exit(tmp_path, args):
    (tmp_path / "empty.csv").write_bytes(b"")
    result = run_subprocess(*args, cwd=tmp_path)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "error:" in result.stderr


def test_subprocess_train_and_predict(tmp_path):
    data = write_classification_csv(tmp_path / "train.csv")
    train = run_subprocess("train", data, "--target", "label", *FAST, cwd=tmp_path)
    predict = run_subprocess("predict", "model.mlpkit", data, cwd=tmp_path)

    assert train.returncode == 0
    assert "epoch 5/5" not in train.stderr
    assert "saved model to model.mlpkit" in train.stdout
    assert predict.returncode == 0
    assert predict.stdout.splitlines()[0] == "label,probability_no,probability_yes"
