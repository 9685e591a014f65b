"""The explain and plot commands, and train --plot, run in-process through main()."""

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlpkit import MLP
from mlpkit.cli import main
from mlpkit.errors import ConvergenceWarning

matplotlib_image = pytest.importorskip("matplotlib.image")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
N_ROWS = 60


def run_cli(capsys, *args) -> tuple[int, str, str]:
    status = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib_image.imread(path)
    assert image.shape[0] > 100
    assert image.shape[1] > 100


def assert_one_line_error(err: str, words: str) -> None:
    assert err.startswith("error: ")
    assert err.strip().count("\n") == 0
    assert words in err


def make_frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=N_ROWS), "x2": rng.normal(size=N_ROWS)})
    frame["label"] = np.where(frame["x1"] * frame["x2"] > 0, "same", "other")
    frame["price"] = 2 * frame["x1"] - frame["x2"]
    return frame


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    """Save a classifier and a regressor on two inputs; return their paths and CSVs."""
    folder = tmp_path_factory.mktemp("models")
    frame = make_frame()
    classification_csv = folder / "classes.csv"
    frame.drop(columns=["price"]).to_csv(classification_csv, index=False)
    regression_csv = folder / "prices.csv"
    frame.drop(columns=["label"]).to_csv(regression_csv, index=False)

    paths = {}
    for name, target in (("classifier", "label"), ("regressor", "price")):
        model = MLP(hidden_layers=(5,), max_epochs=5, learning_rate=0.02)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(frame[["x1", "x2"]], frame[target])
        paths[name] = folder / f"{name}.mlpkit"
        model.save(paths[name])
    return {
        **paths,
        "classes_csv": classification_csv,
        "prices_csv": regression_csv,
        "folder": folder,
    }


# explain


def test_explain_demo_walks_five_steps(capsys):
    status, out, _ = run_cli(capsys, "explain")

    assert status == 0
    for title in (
        "1. Initialize",
        "2. Forward propagation",
        "3. Error",
        "4. Backpropagation",
        "5. Update",
    ):
        assert title in out
    assert "finite difference" in out
    assert "Loss over" not in out


def test_explain_demo_steps_show_loss(capsys):
    status, out, _ = run_cli(capsys, "explain", "--steps", "20")

    assert status == 0
    assert "Loss over 20 steps" in out
    assert "in 20 steps" in out


def test_explain_demo_seed_and_rate(capsys):
    _, first, _ = run_cli(capsys, "explain")
    _, second, _ = run_cli(capsys, "explain", "--seed", "3", "--learning-rate", "0.5")

    assert first != second
    assert "seed 3, η = 0.5" in second


def test_explain_model_row(saved_models, capsys):
    status, out, _ = run_cli(
        capsys,
        "explain",
        saved_models["classifier"],
        saved_models["classes_csv"],
        "--row",
        "2",
        "--steps",
        "3",
    )

    assert status == 0
    assert "Row 2 (line 3 of" in out
    assert "4. Backpropagation" in out
    assert "Loss over 3 steps" in out


def test_explain_model_row_without_target(saved_models, capsys):
    status, out, _ = run_cli(
        capsys, "explain", saved_models["classifier"], saved_models["prices_csv"]
    )

    assert status == 0
    assert "no target column 'label'" in out
    assert "4. Backpropagation" not in out


@pytest.mark.parametrize(
    "extra, words",
    [
        ([], "explain MODEL needs DATA too"),
        (["DATA", "--seed", "2"], "--seed and --learning-rate set up the XOR demo"),
        (["DATA", "--row", "0"], "argument --row: invalid row number '0'"),
        (["DATA", "--row", "61"], "--row must be between 1 and 60"),
        (["DATA", "--steps", "0"], "argument --steps: invalid number of steps '0'"),
    ],
)
def test_explain_model_errors(saved_models, capsys, extra, words):
    extra = [saved_models["classes_csv"] if arg == "DATA" else arg for arg in extra]

    status, _, err = run_cli(capsys, "explain", saved_models["classifier"], *extra)

    assert status == 2
    assert_one_line_error(err, words)


def test_explain_missing_model_file(tmp_path, capsys):
    status, _, err = run_cli(capsys, "explain", tmp_path / "none.mlpkit", "iris")

    assert status == 2
    assert_one_line_error(err, "not found")


# plot


def test_plot_default_path_beside_model(saved_models, capsys):
    status, out, _ = run_cli(capsys, "plot", saved_models["classifier"])

    path = saved_models["folder"] / "classifier-plot.png"
    assert status == 0
    assert f"wrote learning curves to {path}" in out
    assert_png(path)


@pytest.mark.parametrize(
    "model, data", [("classifier", "classes_csv"), ("regressor", "prices_csv")]
)
def test_plot_results_on_data(saved_models, tmp_path, capsys, model, data):
    path = tmp_path / "results.png"

    status, out, _ = run_cli(
        capsys, "plot", saved_models[model], saved_models[data], "--output", path
    )

    assert status == 0
    assert "learning curves and results" in out
    assert_png(path)


def test_plot_network(saved_models, tmp_path, capsys):
    path = tmp_path / "network.png"

    status, out, _ = run_cli(
        capsys, "plot", saved_models["regressor"], "--network", "-o", path
    )

    assert status == 0
    assert "wrote the network" in out
    assert_png(path)


def test_plot_quiet_names_written_file(saved_models, tmp_path, capsys):
    path = tmp_path / "p.png"
    status, out, _ = run_cli(
        capsys, "plot", saved_models["regressor"], "-o", path, "--quiet"
    )

    assert status == 0
    assert out.strip() == f"wrote learning curves to {path}"


@pytest.mark.parametrize(
    "extra, words",
    [
        (["prices_csv"], "target column 'label'"),
        (["--output", "plot.jpg"], "must end in .png"),
        (["--output", "missing/plot.png"], "not found"),
        (["classes_csv", "--network"], "--network draws the model alone"),
    ],
)
def test_plot_errors(saved_models, tmp_path, capsys, monkeypatch, extra, words):
    monkeypatch.chdir(tmp_path)
    extra = [saved_models.get(arg, arg) for arg in extra]

    status, _, err = run_cli(capsys, "plot", saved_models["classifier"], *extra)

    assert status == 2
    assert_one_line_error(err, words)
    assert list(tmp_path.iterdir()) == []


# train --plot


def train_args(tmp_path: Path) -> list:
    data = tmp_path / "train.csv"
    make_frame().drop(columns=["price"]).to_csv(data, index=False)
    return ["train", data, "--target", "label", "--epochs", "3", "--hidden", "4"]


def test_train_plot_writes_curves(tmp_path, capsys):
    plot = tmp_path / "curves.png"

    status, out, _ = run_cli(
        capsys, *train_args(tmp_path), "-o", tmp_path / "m.mlpkit", "--plot", plot
    )

    assert status == 0
    assert f"saved learning curves to {plot}" in out
    assert_png(plot)


def test_train_plot_checked_before_training(tmp_path, capsys):
    model = tmp_path / "m.mlpkit"

    status, _, err = run_cli(
        capsys, *train_args(tmp_path), "-o", model, "--plot", tmp_path / "no" / "c.png"
    )

    assert status == 2
    assert_one_line_error(err, "directory")
    assert not model.exists()


# Without matplotlib


def test_plot_without_matplotlib_names_extra(
    saved_models, tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)

    status, _, err = run_cli(
        capsys, "plot", saved_models["classifier"], "-o", tmp_path / "p.png"
    )

    assert status == 2
    assert_one_line_error(err, "pip install 'mlpkit[plot]'")


def test_train_plot_without_matplotlib_fails_first(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    model = tmp_path / "m.mlpkit"

    status, _, err = run_cli(
        capsys, *train_args(tmp_path), "-o", model, "--plot", tmp_path / "c.png"
    )

    assert status == 2
    assert_one_line_error(err, "pip install 'mlpkit[plot]'")
    assert not model.exists()


def test_explain_works_without_matplotlib(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)

    status, out, _ = run_cli(capsys, "explain")

    assert status == 0
    assert "5. Update" in out
