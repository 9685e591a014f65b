"""The train options for optimizers, schedules, losses, weights and regularization."""

import numpy as np
import pandas as pd
import pytest

from mlpkit.cli import main
from mlpkit.model import MLP

FAST = ["--hidden", "6", "--epochs", "3", "--batch-size", "16", "--quiet"]


def run_cli(capsys, *args):
    status = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    frame = pd.DataFrame(
        {
            "a": X[:, 0],
            "b": X[:, 1],
            "weight": rng.uniform(0.5, 2.0, 100),
            "label": (X[:, 0] > 0.9).astype(int),
            "value": np.abs(X[:, 0]) + 1.0,
            "tag_x": (X[:, 0] > 0).astype(int),
            "tag_y": (X[:, 1] > 0).astype(int),
            "text": ["w"] * 100,
            "negative": -1.0,
            "zero": 0.0,
        }
    )
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


OPTIONS = [
    (["--optimizer", "adamw", "--weight-decay", "0.05", "--beta1", "0.8"], {}),
    (["--optimizer", "rmsprop", "--rho", "0.9", "--epsilon", "1e-7"], {}),
    (["--optimizer", "adagrad", "--learning-rate", "0.1"], {}),
    (["--optimizer", "adadelta", "--learning-rate", "1"], {}),
    (["--optimizer", "lbfgs"], {}),
    (["--learning-rate-schedule", "inverse_scaling", "--power-t", "0.3"], {}),
    (["--learning-rate-schedule", "step", "--step-size", "2", "--gamma", "0.5"], {}),
    (["--learning-rate-schedule", "cosine", "--decay-epochs", "3"], {}),
    (
        [
            "--learning-rate-schedule",
            "reduce_on_plateau",
            "--plateau-factor",
            "0.5",
            "--plateau-patience",
            "1",
            "--min-learning-rate",
            "1e-5",
        ],
        {},
    ),
    (["--class-weight", "balanced"], {"class_weight": "balanced"}),
    (["--activation", "maxout", "--maxout-pieces", "3"], {"maxout_pieces": 3}),
    (["--l1", "0.001", "--l2", "0.01"], {"l1": 0.001, "l2": 0.01}),
    (
        ["--input-dropout", "0.1", "--hidden-dropout", "0.2", "--max-norm", "2"],
        {"input_dropout": 0.1, "hidden_dropout": 0.2, "max_norm": 2.0},
    ),
]


@pytest.mark.parametrize("options, expected", OPTIONS, ids=lambda o: " ".join(o))
def test_option_reaches_saved_model(options, expected, data, tmp_path, capsys):
    model = tmp_path / "m.mlpkit"
    status, _, err = run_cli(
        capsys, "train", data, "--target", "label", *FAST, *options, "-o", model
    )
    settings = MLP.load(model).get_settings()

    assert status == 0, err
    for flag, value in zip(options, options[1:]):
        if flag.startswith("--") and not value.startswith("--"):
            name = flag[2:].replace("-", "_")
            if name not in ("activation", "learning_rate"):
                assert str(settings[name]) == value or settings[name] == float(value)
    for name, value in expected.items():
        assert settings[name] == value


@pytest.mark.parametrize(
    "loss, extra",
    [
        ("absolute_error", []),
        ("huber", ["--huber-delta", "0.5"]),
        ("poisson", []),
        ("quantile", ["--quantile", "0.8"]),
    ],
)
def test_loss_option_trains_regression(loss, extra, data, tmp_path, capsys):
    model = tmp_path / "m.mlpkit"
    status, _, err = run_cli(
        capsys, "train", data, "--target", "value", "--loss", loss, *extra, *FAST,
        "-o", model,
    )
    loaded = MLP.load(model)

    assert status == 0, err
    assert loaded.task_ == "regression"
    assert loaded.network_.loss.name == loss


def test_multilabel_target_columns(data, tmp_path, capsys):
    model = tmp_path / "m.mlpkit"
    status, _, err = run_cli(
        capsys, "train", data, "--target", "tag_x,tag_y", "--task", "multilabel",
        *FAST, "-o", model,
    )
    predict_status, out, _ = run_cli(capsys, "predict", model, data)

    assert status == 0, err
    assert MLP.load(model).task_ == "multilabel"
    assert predict_status == 0
    assert out.splitlines()[0].startswith("tag_x,tag_y,probability_tag_x")


def test_hidden_dropout_per_layer(data, tmp_path, capsys):
    model = tmp_path / "m.mlpkit"
    status, _, err = run_cli(
        capsys, "train", data, "--target", "label", *FAST, "--hidden", "6,4",
        "--hidden-dropout", "0.1,0.3", "-o", model,
    )

    assert status == 0, err
    assert MLP.load(model).get_settings()["hidden_dropout"] == [0.1, 0.3]


def test_weight_column_is_not_a_feature(data, tmp_path, capsys):
    model = tmp_path / "m.mlpkit"
    status, _, err = run_cli(
        capsys, "train", data, "--target", "label", "--weight-column", "weight",
        *FAST, "-o", model,
    )
    features = MLP.load(model).preprocessor_.feature_names_in_

    assert status == 0, err
    assert "weight" not in features
    assert "a" in features


def test_weight_column_changes_training(data, tmp_path, capsys):
    plain, weighted = tmp_path / "p.mlpkit", tmp_path / "w.mlpkit"
    # Without the option the weight column would be a feature, so drop it there.
    frame = pd.read_csv(data).drop(columns=["weight"])
    frame.to_csv(tmp_path / "plain.csv", index=False)
    run_cli(capsys, "train", tmp_path / "plain.csv", "--target", "label", *FAST, "-o", plain)
    run_cli(
        capsys, "train", data, "--target", "label", "--weight-column", "weight",
        *FAST, "-o", weighted,
    )
    p, w = MLP.load(plain), MLP.load(weighted)

    assert p.network_.layer_sizes == w.network_.layer_sizes
    assert not np.array_equal(p.network_.parameters, w.network_.parameters)


@pytest.mark.parametrize(
    "column, words",
    [
        ("missing", "not found"),
        ("text", "not a finite number"),
        ("negative", "negative weight"),
        ("zero", "zero in every row"),
        ("label", "also a --target"),
    ],
)
def test_bad_weight_column_exits_two(column, words, data, tmp_path, capsys):
    status, _, err = run_cli(
        capsys, "train", data, "--target", "label", "--weight-column", column,
        *FAST, "-o", tmp_path / "m.mlpkit",
    )

    assert status == 2
    assert words in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "options, words",
    [
        (["--plateau-patience", "20", "--learning-rate-schedule", "reduce_on_plateau"],
         "--plateau-patience"),
        (["--l2", "-1"], "l2"),
        (["--hidden-dropout", "0.1,x"], "dropout"),
        (["--optimizer", "lbfgs", "--checkpoint", "c.mlpkit"], "lbfgs"),
    ],
)
def test_invalid_option_exits_two(options, words, data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, err = run_cli(
        capsys, "train", data, "--target", "label", *FAST, *options, "-o", "m.mlpkit"
    )

    assert status == 2
    assert words in err


def test_info_lists_new_settings(data, tmp_path, capsys):
    model = tmp_path / "m.mlpkit"
    run_cli(
        capsys, "train", data, "--target", "label", *FAST, "--optimizer", "adamw",
        "--learning-rate-schedule", "cosine", "--l2", "0.01", "-o", model,
    )
    status, out, _ = run_cli(capsys, "info", model)

    assert status == 0
    for word in ("adamw", "cosine", "learning_rate_schedule", "weight_decay", "l2"):
        assert word in out


def test_schedule_resume_matches_uninterrupted(data, tmp_path, capsys):
    schedule = ["--learning-rate-schedule", "step", "--step-size", "1", "--gamma", "0.7"]
    base = ["train", data, "--target", "label", "--hidden", "6", "--quiet", *schedule]
    run_cli(capsys, *base, "--epochs", "4", "-o", tmp_path / "full.mlpkit")
    checkpoint = tmp_path / "c.mlpkit"
    run_cli(capsys, *base, "--epochs", "2", "--checkpoint", checkpoint, "-o", tmp_path / "a.mlpkit")
    status, _, err = run_cli(
        capsys, *base, "--epochs", "4", "--resume", checkpoint, "-o", tmp_path / "b.mlpkit"
    )
    full = MLP.load(tmp_path / "full.mlpkit")
    resumed = MLP.load(tmp_path / "b.mlpkit")

    assert status == 0, err
    assert np.array_equal(full.network_.parameters, resumed.network_.parameters)


def test_help_shows_new_options(capsys):
    status, out, _ = run_cli(capsys, "train", "--help")

    assert status == 0
    for flag in ("--learning-rate-schedule", "--weight-column", "--hidden-dropout"):
        assert flag in out
