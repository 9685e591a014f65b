"""Divergence: NaN or infinite losses and weights stop training with a clear error.

The error names the epoch and the batch, the network keeps its last good weights,
and the model can still be saved and loaded.
"""

import json
import math

import numpy as np
import pytest

from mlpkit import MLP
from mlpkit.errors import TrainingDivergedError
from mlpkit.network import Network
from mlpkit.optimizers import SGD
from mlpkit.training import EpochRecord, History, StoppingRule, run_epoch, train

from mlpkit.cli import main


def regression_data(n_samples=200, seed=0):
    """Return features and a target around 1e3, the scale that makes SGD diverge."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 3))
    y = 1e3 + 100 * X[:, 0] - 50 * X[:, 1]
    return X, y


@pytest.mark.parametrize("standardize", [True, False])
def test_large_targets_with_sgd_diverge_cleanly(standardize):
    X, y = regression_data()
    model = MLP(
        hidden_layers=(8,),
        optimizer="sgd",
        learning_rate=10,
        standardize=standardize,
        max_epochs=20,
    )

    with pytest.raises(TrainingDivergedError) as caught:
        with np.errstate(all="ignore"):
            model.fit(X, y)

    error = caught.value
    assert error.epoch == 1
    assert error.batch >= 1
    message = str(error)
    assert f"epoch 1, batch {error.batch} of 6" in message
    assert "learning rate that is too high (it is 10)" in message
    assert "standardized" in message
    assert "initial weights" in message
    assert np.all(np.isfinite(model.network_.parameters))
    assert model.history_.epochs == 0


def test_diverged_model_keeps_initial_weights():
    X, y = regression_data()
    settings = {"hidden_layers": (8,), "optimizer": "sgd", "max_epochs": 20}
    diverged = MLP(learning_rate=10, **settings)
    with pytest.raises(TrainingDivergedError), np.errstate(all="ignore"):
        diverged.fit(X, y)

    reference = Network(
        diverged.network_.layer_sizes,
        activation="relu",
        output_activation="identity",
        loss="squared_error",
        dtype="float32",
        seed=0,
    )

    np.testing.assert_array_equal(diverged.network_.parameters, reference.parameters)


def raise_learning_rate_after(model, epoch, snapshots):
    """Return an epoch callback that saves the weights and sets a huge learning rate."""

    def on_epoch_end(record):
        snapshots[record.epoch] = model.network_.parameters.copy()
        if record.epoch == epoch:
            model.optimizer_.learning_rate = 1e12

    return on_epoch_end


def test_later_divergence_keeps_best_epoch(tmp_path):
    X, y = regression_data()
    model = MLP(hidden_layers=(8,), optimizer="sgd", learning_rate=0.01, max_epochs=30)
    snapshots = {}

    with pytest.raises(TrainingDivergedError) as caught, np.errstate(all="ignore"):
        model.fit(X, y, on_epoch_end=raise_learning_rate_after(model, 4, snapshots))

    error = caught.value
    best_epoch = model.history_.best_epoch
    assert error.epoch == 5
    assert model.history_.epochs == 4
    assert 1 <= best_epoch <= 4
    assert f"the weights of epoch {best_epoch}, the best so far" in str(error)
    np.testing.assert_array_equal(model.network_.parameters, snapshots[best_epoch])


def test_diverged_model_saves_and_loads(tmp_path):
    X, y = regression_data()
    model = MLP(hidden_layers=(8,), optimizer="sgd", learning_rate=0.01, max_epochs=30)
    with pytest.raises(TrainingDivergedError), np.errstate(all="ignore"):
        model.fit(X, y, on_epoch_end=raise_learning_rate_after(model, 3, {}))

    model.save(tmp_path / "model.mlpkit")
    loaded = MLP.load(tmp_path / "model.mlpkit")

    assert loaded.history_.epochs == 3
    np.testing.assert_array_equal(loaded.network_.parameters, model.network_.parameters)
    assert np.all(np.isfinite(loaded.predict(X)))


class PoisonedSGD(SGD):
    """SGD that writes NaN into the weights at one step, as a broken update would."""

    def __init__(self, poisoned_step, **settings):
        super().__init__(**settings)
        self.poisoned_step = poisoned_step

    def _update(self, parameters, gradients, state):
        super()._update(parameters, gradients, state)
        if self.iterations == self.poisoned_step:
            parameters[0] = np.nan


def small_network():
    return Network([2, 4, 1], loss="squared_error", dtype="float64", seed=0)


def small_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 2))
    return X, X.sum(axis=1, keepdims=True)


def test_non_finite_weights_detected_at_epoch_end():
    network = small_network()
    X, y = small_data()
    optimizer = PoisonedSGD(poisoned_step=3, learning_rate=0.01)

    # One batch per epoch: the NaN of step 3 is found by the weight check, before
    # any later loss could show it.
    with pytest.raises(TrainingDivergedError) as caught:
        train(
            network,
            optimizer,
            X,
            y,
            batch_size=20,
            stopping=StoppingRule(max_epochs=10, patience=10),
            rng=None,
        )

    assert caught.value.epoch == 3
    assert "the weights became nan in epoch 3, batch 1 of 1" in str(caught.value)
    assert np.all(np.isfinite(network.parameters))
    assert caught.value.history.epochs == 2


def test_nan_loss_names_the_next_batch():
    network = small_network()
    X, y = small_data()
    optimizer = PoisonedSGD(poisoned_step=2, learning_rate=0.01)

    with pytest.raises(TrainingDivergedError) as caught:
        train(
            network,
            optimizer,
            X,
            y,
            batch_size=5,
            stopping=StoppingRule(max_epochs=10, patience=10),
            rng=None,
        )

    assert caught.value.epoch == 1
    assert caught.value.batch == 3
    assert "the loss became nan in epoch 1, batch 3 of 4" in str(caught.value)


def test_infinite_validation_loss_detected():
    network = small_network()
    X, y = small_data()
    huge_inputs = np.full((4, 2), 1e200)

    with pytest.raises(TrainingDivergedError, match="validation loss became inf"):
        with np.errstate(all="ignore"):
            train(
                network,
                SGD(learning_rate=0.01),
                X,
                y,
                batch_size=5,
                stopping=StoppingRule(max_epochs=3, patience=3),
                rng=None,
                validation=(huge_inputs, np.zeros((4, 1))),
            )


def test_run_epoch_divergence_restores_weights():
    network = small_network()
    X, y = small_data()
    before = network.parameters.copy()

    with pytest.raises(TrainingDivergedError) as caught:
        optimizer = PoisonedSGD(poisoned_step=1, learning_rate=0.01)
        run_epoch(network, optimizer, X, y, None, 5, None)

    assert caught.value.epoch is None
    assert "batch 2 of 4" in str(caught.value)
    np.testing.assert_array_equal(network.parameters, before)


def test_history_to_dict_has_no_nan():
    history = History(
        records=[
            EpochRecord(1, math.nan, math.inf, {"r2": -math.inf, "rmse": 2.0}),
            EpochRecord(2, 0.5, None, {"r2": math.nan}),
        ],
        best_epoch=2,
    )

    data = history.to_dict()
    text = json.dumps(data, allow_nan=False)
    restored = History.from_dict(json.loads(text))

    assert data["records"][0]["train_loss"] is None
    assert data["records"][0]["validation_loss"] is None
    assert data["records"][0]["metrics"] == {"r2": None, "rmse": 2.0}
    assert restored.records[1].train_loss == 0.5
    assert restored.records[1].metrics == {"r2": None}


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"records": {}},
        {"records": [{"epoch": 2, "train_loss": 1.0, "validation_loss": None}]},
        {"records": [{"epoch": 1, "train_loss": "low", "validation_loss": None}]},
        {"records": [], "best_epoch": 1},
        {"records": [], "monitor": "accuracy"},
        {"records": [], "converged": "yes"},
    ],
)
def test_history_from_dict_rejects_invalid(data):
    with pytest.raises((TypeError, ValueError)):
        History.from_dict(data)


def test_cli_divergence_names_epoch_and_batch(tmp_path, capsys):
    X, y = regression_data()
    data = tmp_path / "data.csv"
    frame = np.column_stack([X, y])
    np.savetxt(data, frame, delimiter=",", header="a,b,c,price", comments="")
    model_path = tmp_path / "model.mlpkit"
    arguments = ["train", data, "--target", "price", "--optimizer", "sgd"]
    arguments += ["--learning-rate", "1e8", "--epochs", "5", "-o", model_path]

    with np.errstate(all="ignore"):
        status = main([str(argument) for argument in arguments])
    err = capsys.readouterr().err

    assert status == 2
    assert "error: training diverged" in err
    assert "epoch 1, batch" in err
    assert "Traceback" not in err
    assert not model_path.exists()


def test_cli_saves_best_model_before_divergence(tmp_path, capsys, monkeypatch):
    X, y = regression_data()
    data = tmp_path / "data.csv"
    table = np.column_stack([X, y])
    np.savetxt(data, table, delimiter=",", header="a,b,c,price", comments="")
    model_path = tmp_path / "model.mlpkit"
    original_fit = MLP.fit

    def fit_then_diverge(self, *args, **options):
        show_progress = options.get("on_epoch_end")

        def on_epoch_end(record):
            if show_progress is not None:
                show_progress(record)
            if record.epoch == 2:
                self.optimizer_.learning_rate = 1e12

        options["on_epoch_end"] = on_epoch_end
        return original_fit(self, *args, **options)

    monkeypatch.setattr(MLP, "fit", fit_then_diverge)
    arguments = ["train", data, "--target", "price", "--optimizer", "sgd"]
    arguments += ["--learning-rate", "0.001", "--epochs", "5", "-o", model_path]

    with np.errstate(all="ignore"):
        status = main([str(argument) for argument in arguments])
    err = capsys.readouterr().err

    assert status == 2
    saved = MLP.load(model_path)
    assert saved.history_.epochs == 2
    assert f"saved the model of epoch {saved.history_.best_epoch}" in err
    assert "error: training diverged" in err
    assert "epoch 3, batch" in err
