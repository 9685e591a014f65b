"""Checkpoints: saved after every epoch, resumed to the weights of an unbroken run."""

import json
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from mlpkit import MLP
from mlpkit.cli import main
from mlpkit.errors import (
    CheckpointWarning,
    ConvergenceWarning,
    DataError,
    ModelFileError,
    ParameterError,
)
from mlpkit.optimizers import OPTIMIZERS

N_ROWS = 150


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=N_ROWS),
            "weight": rng.normal(size=N_ROWS),
            "color": rng.choice(["red", "green", "blue"], N_ROWS),
        }
    )
    label = np.where(frame["size"] + (frame["color"] == "red") > 0.3, "yes", "no")
    return frame, pd.Series(label, name="label")


SETTINGS = {
    "hidden_layers": (6,),
    "learning_rate": 0.01,
    "batch_size": 16,
    "patience": 100,
}


def fit(max_epochs, data=None, **options):
    """Fit a fresh MLP with SETTINGS, overridden by the MLP settings in ``options``."""
    frame, label = data or make_data()
    mlp_names = set(MLP().get_settings())
    settings = {**SETTINGS, "max_epochs": max_epochs}
    for key in list(options):
        if key in mlp_names:
            settings[key] = options.pop(key)
    model = MLP(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(frame, label, **options)


def stop_after(n_batches):
    """Return a stop request that turns True after ``n_batches`` polls."""
    polls = []

    def requested():
        polls.append(None)
        return len(polls) >= n_batches

    return requested


def assert_same_training(resumed, uninterrupted):
    np.testing.assert_array_equal(
        resumed.network_.parameters, uninterrupted.network_.parameters
    )
    assert resumed.history_.to_dict() == uninterrupted.history_.to_dict()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"optimizer": "sgd", "momentum": 0.9, "nesterov": True},
        {"optimizer": "sgd", "momentum": 0.0},
        {"validation_fraction": 0.0},
        {"dtype": "float64"},
    ],
    ids=["adam", "nesterov", "plain-sgd", "no-validation", "float64"],
)
def test_resume_after_epoch_matches_uninterrupted(tmp_path, options):
    checkpoint = tmp_path / "run.ckpt"
    uninterrupted = fit(6, **options)

    fit(3, checkpoint=checkpoint, **options)
    resumed = fit(6, resume=checkpoint, **options)

    assert_same_training(resumed, uninterrupted)


@pytest.mark.parametrize("n_batches", [1, 5, 8, 9, 20])
def test_resume_inside_epoch_matches_uninterrupted(tmp_path, n_batches):
    # 135 training rows in batches of 16 make 9 batches an epoch.
    checkpoint = tmp_path / "run.ckpt"
    uninterrupted = fit(5)

    stopped = fit(5, checkpoint=checkpoint, stop_requested=stop_after(n_batches))
    resumed = fit(5, resume=checkpoint)

    assert stopped.history_.interrupted
    assert stopped.history_.epochs == n_batches // 9
    assert_same_training(resumed, uninterrupted)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_resume_restores_every_optimizer(tmp_path, optimizer):
    checkpoint = tmp_path / "run.ckpt"
    uninterrupted = fit(4, optimizer=optimizer)

    fit(4, optimizer=optimizer, checkpoint=checkpoint, stop_requested=stop_after(13))
    resumed = fit(4, optimizer=optimizer, resume=checkpoint)

    assert_same_training(resumed, uninterrupted)


def test_resume_twice_matches_uninterrupted(tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    uninterrupted = fit(6)

    fit(6, checkpoint=checkpoint, stop_requested=stop_after(4))
    fit(6, checkpoint=checkpoint, resume=checkpoint, stop_requested=stop_after(20))
    resumed = fit(6, resume=checkpoint)

    assert_same_training(resumed, uninterrupted)


def test_checkpoint_written_every_epoch(tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    seen_epochs = []

    def on_epoch_end(record):
        # The checkpoint of the previous epoch, since it is written after this call.
        if checkpoint.exists():
            seen_epochs.append(MLP.load(checkpoint).history_.epochs)

    model = fit(4, checkpoint=checkpoint, on_epoch_end=on_epoch_end)

    assert seen_epochs == [1, 2, 3]
    assert MLP.load(checkpoint).history_.epochs == model.history_.epochs
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run.ckpt"]


def test_checkpoint_is_a_model_file_without_pickle(tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    fit(2, checkpoint=checkpoint)

    with zipfile.ZipFile(checkpoint) as archive:
        names = archive.namelist()
        metadata = json.loads(archive.read("metadata.json"))

    assert "arrays/best_parameters.npy" in names
    assert "arrays/optimizer_first_moment.npy" in names
    assert "arrays/optimizer_second_moment.npy" in names
    assert all(name == "metadata.json" or name.endswith(".npy") for name in names)
    assert metadata["checkpoint"]["rng_state"]["bit_generator"] == "PCG64"
    assert metadata["checkpoint"]["optimizer_iterations"] == 2 * 9


def test_loaded_checkpoint_has_latest_weights(tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    stopped = fit(5, checkpoint=checkpoint, stop_requested=stop_after(13))

    latest = MLP.load(checkpoint)

    assert latest.history_.epochs == 1
    assert np.all(np.isfinite(latest.predict_outputs(make_data()[0])))
    assert stopped.history_.best_epoch == 1


@pytest.mark.parametrize(
    "change",
    [
        {"max_epochs": 8},
        {"learning_rate": 0.001},
        {"batch_size": 32},
        {"patience": 3, "max_epochs": 8},
        {"tolerance": 0.01},
    ],
    ids=["epochs", "learning-rate", "batch-size", "patience", "tolerance"],
)
def test_resume_accepts_later_settings(tmp_path, change):
    checkpoint = tmp_path / "run.ckpt"
    fit(3, checkpoint=checkpoint)

    resumed = fit(change.pop("max_epochs", 5), resume=checkpoint, **change)

    assert resumed.history_.epochs > 3
    for key, value in change.items():
        assert getattr(resumed, key) == value
    if "learning_rate" in change:
        assert resumed.optimizer_.learning_rate == change["learning_rate"]


@pytest.mark.parametrize(
    "change",
    [
        {"hidden_layers": (7,)},
        {"activation": "tanh"},
        {"optimizer": "sgd"},
        {"dtype": "float64"},
        {"seed": 1},
        {"task": "regression"},
        {"standardize": False},
        {"validation_fraction": 0.2},
    ],
    ids=lambda change: next(iter(change)),
)
def test_resume_rejects_fixed_settings(tmp_path, change):
    checkpoint = tmp_path / "run.ckpt"
    fit(2, checkpoint=checkpoint)
    name = next(iter(change))

    with pytest.raises(ParameterError, match=f"trained with {name}=") as caught:
        fit(4, resume=checkpoint, **change)

    assert "start a new training" in str(caught.value)


def test_resume_rejects_other_columns(tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    fit(2, checkpoint=checkpoint)
    frame, label = make_data()

    with pytest.raises(DataError, match="feature columns are 'size', 'color'"):
        fit(4, data=(frame.drop(columns=["weight"]), label), resume=checkpoint)
    with pytest.raises(DataError, match="feature columns"):
        fit(4, data=(frame.assign(extra=1.0), label), resume=checkpoint)
    with pytest.raises(DataError, match="target columns are 'kind'"):
        fit(4, data=(frame, label.rename("kind")), resume=checkpoint)


def test_resume_on_other_rows_warns(tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    fit(2, checkpoint=checkpoint)

    with pytest.warns(CheckpointWarning, match="differs from the rows"):
        fit(4, data=make_data(seed=1), resume=checkpoint)


def test_resume_from_plain_model_rejected(tmp_path):
    model = fit(2)
    model.save(tmp_path / "model.mlpkit")

    with pytest.raises(ModelFileError, match="not a checkpoint"):
        fit(4, resume=tmp_path / "model.mlpkit")


def test_resume_finished_training_rejected(tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    fit(3, checkpoint=checkpoint)

    with pytest.raises(ParameterError, match="raise max_epochs"):
        fit(3, resume=checkpoint)


def test_resume_inside_epoch_without_epochs_left_rejected(tmp_path):
    # 9 batches an epoch, so a stop after 20 batches is inside epoch 3.
    checkpoint = tmp_path / "run.ckpt"
    stopped = fit(5, checkpoint=checkpoint, stop_requested=stop_after(20))
    assert stopped.history_.epochs == 2

    with pytest.raises(ParameterError, match="raise max_epochs"):
        fit(2, resume=checkpoint)


def test_resume_inside_last_epoch_finishes_it(tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    fit(5, checkpoint=checkpoint, stop_requested=stop_after(20))

    resumed = fit(3, resume=checkpoint)

    assert resumed.history_.epochs == 3


def test_resume_converged_training_rejected(tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    converged = fit(200, checkpoint=checkpoint, patience=2, learning_rate=0.05)
    assert converged.history_.converged

    with pytest.raises(ParameterError, match="raise patience"):
        fit(300, resume=checkpoint, patience=2, learning_rate=0.05)


def rewrite_checkpoint(path, change):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    metadata = json.loads(members["metadata.json"])
    change(metadata["checkpoint"], members)
    members["metadata.json"] = json.dumps(metadata)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def set_rng_state(section, members):
    section["rng_state"] = {"bit_generator": "MT19937x", "state": {}}


def drop_moment(section, members):
    del members["arrays/optimizer_first_moment.npy"]


def shorten_best(section, members):
    del members["arrays/best_parameters.npy"]
    members["arrays/weights_0.npy"], members["arrays/best_parameters.npy"] = (
        members["arrays/weights_0.npy"],
        members["arrays/biases_0.npy"],
    )


def negative_rows(section, members):
    section["rows_done"] = -1


def section_as_list(section, members):
    section.clear()
    section["rows_done"] = [1]


@pytest.mark.parametrize(
    "change",
    [set_rng_state, drop_moment, shorten_best, negative_rows, section_as_list],
)
def test_damaged_checkpoint_rejected(tmp_path, change):
    checkpoint = tmp_path / "run.ckpt"
    fit(2, checkpoint=checkpoint)
    rewrite_checkpoint(checkpoint, change)

    with pytest.raises(ModelFileError, match="checkpoint"):
        fit(4, resume=checkpoint)


# Command line


def write_csv(path):
    frame, label = make_data()
    frame.assign(label=label).to_csv(path, index=False)
    return path


def train_cli(data, output, *extra):
    arguments = ["train", data, "--target", "label", "--hidden", "6"]
    arguments += ["--batch-size", "16", "--patience", "100", "--quiet", "-o", output]
    return main([str(argument) for argument in [*arguments, *extra]])


def test_cli_resume_matches_uninterrupted(tmp_path, capsys):
    data = write_csv(tmp_path / "data.csv")
    checkpoint = tmp_path / "run.ckpt"

    full_status = train_cli(data, tmp_path / "full.mlpkit", "--epochs", "6")
    first_status = train_cli(
        data, tmp_path / "a.mlpkit", "--epochs", "3", "--checkpoint", checkpoint
    )
    resumed_status = train_cli(
        data, tmp_path / "b.mlpkit", "--epochs", "6", "--resume", checkpoint
    )
    out = capsys.readouterr().out

    assert full_status == 0
    assert first_status == 0
    assert resumed_status == 0
    full = MLP.load(tmp_path / "full.mlpkit")
    resumed = MLP.load(tmp_path / "b.mlpkit")
    np.testing.assert_array_equal(resumed.network_.parameters, full.network_.parameters)
    assert f"saved checkpoint to {checkpoint}" in out
    # Without --checkpoint, resuming keeps writing to the --resume file.
    assert MLP.load(checkpoint).history_.epochs == 6


def test_cli_resume_with_other_architecture_fails(tmp_path, capsys):
    data = write_csv(tmp_path / "data.csv")
    checkpoint = tmp_path / "run.ckpt"
    train_cli(data, tmp_path / "a.mlpkit", "--epochs", "2", "--checkpoint", checkpoint)
    capsys.readouterr()

    resume = ["--epochs", "4", "--resume", checkpoint, "--hidden", "9"]
    status = train_cli(data, tmp_path / "b.mlpkit", *resume)
    err = capsys.readouterr().err

    assert status == 2
    assert "--hidden=6, but this run has --hidden=9" in err
    assert not (tmp_path / "b.mlpkit").exists()


def test_resume_with_dropout_matches_uninterrupted(tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    options = {"input_dropout": 0.1, "hidden_dropout": 0.3}
    uninterrupted = fit(4, **options)

    fit(4, checkpoint=checkpoint, stop_requested=stop_after(13), **options)
    resumed = fit(4, resume=checkpoint, **options)

    assert_same_training(resumed, uninterrupted)
