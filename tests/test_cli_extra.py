"""The command line for cross-validation, autoencoders and variable importance."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlpkit.autoencoder import Autoencoder
from mlpkit.cli import extra_commands, main
from mlpkit.model import MLP

FAST = ["--epochs", "20", "--hidden", "8", "--learning-rate", "0.01"]
N_ROWS = 150


def make_frame(seed=0):
    """Return an informative column, a noise column, a text column and a label."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=N_ROWS)
    frame = pd.DataFrame(
        {
            "signal": signal,
            "noise": rng.normal(size=N_ROWS),
            "color": rng.choice(["red", "blue"], N_ROWS),
        }
    )
    frame["label"] = np.where(signal > 0, "yes", "no")
    return frame


def write_csv(path: Path, frame=None) -> Path:
    (make_frame() if frame is None else frame).to_csv(path, index=False)
    return path


def run_cli(capsys, *args):
    status = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    directory = tmp_path_factory.mktemp("classifier")
    data = write_csv(directory / "data.csv")
    model_path = directory / "model.mlpkit"
    status = main(
        ["train", str(data), "--target", "label", "-o", str(model_path), *FAST]
    )
    assert status == 0
    return model_path, data


@pytest.fixture(scope="module")
def autoencoder(tmp_path_factory):
    directory = tmp_path_factory.mktemp("autoencoder")
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(200, 1))
    frame = pd.DataFrame(latent @ rng.normal(size=(1, 4)), columns=list("abcd"))
    frame += 0.05 * rng.normal(size=frame.shape)
    frame.loc[17, "a"] = -frame.loc[17, "a"] + 4.0 * frame["a"].std()
    data = write_csv(directory / "rows.csv", frame)
    model_path = directory / "rows.mlpkit"
    status = main(
        [
            "train",
            str(data),
            "--autoencoder",
            "--test-fraction",
            "0",
            "-o",
            str(model_path),
            "--learning-rate",
            "0.01",
        ]
    )
    assert status == 0
    return model_path, data


# train --folds


def test_train_folds_reports_folds_mean_and_std(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(extra_commands, "stderr_is_terminal", lambda: True)
    data = write_csv(tmp_path / "data.csv")
    output = tmp_path / "model.mlpkit"

    status, out, err = run_cli(
        capsys, "train", data, "--target", "label", "--folds", "3", "-o", output, *FAST
    )

    assert status == 0
    assert "3-fold cross-validation (binary)" in out
    assert "mean" in out
    assert "std" in out
    assert "fold 3 of 3" in err
    assert "saved model to" in out
    assert MLP.load(output).task_ == "binary"


def test_train_folds_progress_off_without_terminal(capsys, tmp_path):
    data = write_csv(tmp_path / "data.csv")

    status, out, err = run_cli(
        capsys,
        "train",
        data,
        "--target",
        "label",
        "--folds",
        "2",
        "-o",
        tmp_path / "m.mlpkit",
        *FAST,
    )

    assert status == 0
    assert "fold 1 of 2" not in err
    assert "2-fold cross-validation" in out


def test_train_folds_uses_training_rows(capsys, tmp_path):
    data = write_csv(tmp_path / "data.csv")

    status, out, _ = run_cli(
        capsys,
        "train",
        data,
        "--target",
        "label",
        "--folds",
        "2",
        "--test-fraction",
        "0",
        "-o",
        tmp_path / "m.mlpkit",
        *FAST,
    )

    assert status == 0
    assert f"training the final model on all {N_ROWS} training rows" in out


@pytest.mark.parametrize("folds", ["1", "x"])
def test_train_folds_rejects_invalid_count(capsys, tmp_path, folds):
    data = write_csv(tmp_path / "data.csv")

    status, _, err = run_cli(
        capsys, "train", data, "--target", "label", "--folds", folds
    )

    assert status == 2
    assert "invalid number of folds" in err


def test_train_folds_rejects_resume(capsys, tmp_path):
    data = write_csv(tmp_path / "data.csv")

    status, _, err = run_cli(
        capsys,
        "train",
        data,
        "--target",
        "label",
        "--folds",
        "3",
        "--resume",
        tmp_path / "checkpoint",
    )

    assert status == 2
    assert "--folds cannot be combined with --resume" in err


# train --autoencoder and anomalies


def test_autoencoder_file_loads_as_autoencoder(autoencoder):
    model_path, _ = autoencoder

    model = Autoencoder.load(model_path)

    assert model.network_.layer_sizes == [4, 2, 1, 2, 4]
    assert model.activation == "tanh"


def test_autoencoder_options_given_apply(capsys, tmp_path):
    data = write_csv(tmp_path / "data.csv")
    output = tmp_path / "ae.mlpkit"

    status, out, _ = run_cli(
        capsys,
        "train",
        data,
        "--target",
        "label",
        "--autoencoder",
        "--hidden",
        "3",
        "--activation",
        "relu",
        "--epochs",
        "3",
        "-o",
        output,
    )

    assert status == 0
    assert "mean reconstruction error on 30 test rows" in out
    model = Autoencoder.load(output)
    assert model.network_.layer_sizes == [4, 3, 4]
    assert model.activation == "relu"
    assert model.preprocessor_.feature_names_in_ == ["signal", "noise", "color"]


def test_autoencoder_rejects_folds(capsys, tmp_path):
    data = write_csv(tmp_path / "data.csv")

    status, _, err = run_cli(capsys, "train", data, "--autoencoder", "--folds", "3")

    assert status == 2
    assert "leave it out with --autoencoder" in err


def test_anomalies_lists_planted_row_first(capsys, autoencoder):
    model_path, data = autoencoder

    status, out, _ = run_cli(capsys, "anomalies", model_path, data, "--top", "3")

    assert status == 0
    first_listed = re.search(r"│\s+1 │\s+(\d+) │", out)
    assert "most unusual rows" in out
    assert "scored 200 rows" in out
    assert first_listed is not None
    assert first_listed.group(1) == "18"


def test_anomalies_writes_every_row(capsys, autoencoder, tmp_path):
    model_path, data = autoencoder
    output = tmp_path / "scores.csv"

    status, out, _ = run_cli(capsys, "anomalies", model_path, data, "-o", output)

    assert status == 0
    assert f"wrote the scores of 200 rows to {output}" in out
    scores = pd.read_csv(output)
    assert list(scores.columns) == ["rank", "row", "reconstruction_error"]
    assert len(scores) == 200
    assert scores["row"].iloc[0] == 18
    assert scores["reconstruction_error"].is_monotonic_decreasing


def test_anomalies_rejects_classifier(capsys, classifier):
    model_path, data = classifier

    status, _, err = run_cli(capsys, "anomalies", model_path, data)

    assert status == 2
    assert "contains a supervised model, but 'mlpkit anomalies' needs an" in err


def test_predict_rejects_autoencoder(capsys, autoencoder):
    model_path, data = autoencoder

    status, _, err = run_cli(capsys, "predict", model_path, data)

    assert status == 2
    assert "contains an autoencoder, but 'mlpkit predict' needs a model" in err


# info, importance and plot --importance


def test_info_shows_gedeon_importance(capsys, classifier):
    model_path, _ = classifier

    status, out, _ = run_cli(capsys, "info", model_path)

    assert status == 0
    assert "Gedeon importance" in out
    assert "signal" in out


def test_info_describes_autoencoder(capsys, autoencoder):
    model_path, _ = autoencoder

    status, out, _ = run_cli(capsys, "info", model_path)

    assert status == 0
    assert "task: autoencoder" in out
    assert "Gedeon" not in out


def test_importance_ranks_signal_first(capsys, classifier):
    model_path, data = classifier

    status, out, _ = run_cli(capsys, "importance", model_path, data, "--repeats", "3")

    assert status == 0
    assert "permutation importance" in out
    assert "the drop in accuracy when the column is shuffled" in out
    assert out.index("signal") < out.index("noise")
    assert "over 3 shuffles" in out


def test_importance_needs_target_column(capsys, classifier, tmp_path):
    model_path, _ = classifier
    data = write_csv(tmp_path / "inputs.csv", make_frame().drop(columns="label"))

    status, _, err = run_cli(capsys, "importance", model_path, data)

    assert status == 2
    assert "lacks the target column(s)" in err


def test_plot_importance_writes_png(capsys, classifier, tmp_path):
    pytest.importorskip("matplotlib")
    model_path, data = classifier
    output = tmp_path / "importance.png"

    status, out, _ = run_cli(
        capsys, "plot", model_path, data, "--importance", "-o", output
    )

    assert status == 0
    assert output.read_bytes().startswith(b"\x89PNG")
    assert "wrote variable importance" in out


def test_plot_importance_default_path(capsys, classifier):
    pytest.importorskip("matplotlib")
    model_path, _ = classifier

    status, _, _ = run_cli(capsys, "plot", model_path, "--importance")

    assert status == 0
    assert model_path.with_name("model-importance.png").is_file()


def test_plot_importance_rejects_network(capsys, classifier):
    model_path, _ = classifier

    status, _, err = run_cli(capsys, "plot", model_path, "--importance", "--network")

    assert status == 2
    assert "pass one of them" in err
