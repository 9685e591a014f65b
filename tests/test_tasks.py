"""Multilabel targets and the choice of regression loss in the target encoder."""

import numpy as np
import pandas as pd
import pytest

from mlpkit.errors import DataError, ModelFileError, ParameterError
from mlpkit.network import Network
from mlpkit.tasks import (
    REGRESSION_LOSSES,
    TASK_SPECS,
    TargetEncoder,
    as_multilabel_frame,
    regression_spec,
)

LABEL_LISTS = [["dog", "cat"], [], ("owl",), {"cat"}]
INDICATOR = pd.DataFrame({"spam": [0, 1, 1], "urgent": [True, False, True]})


# Multilabel


def test_multilabel_spec_is_one_sigmoid_per_label():
    spec = TASK_SPECS["multilabel"]

    assert spec.output_activation == "sigmoid"
    assert spec.loss == "binary_cross_entropy"


def test_label_lists_encode_to_indicator_rows():
    encoder = TargetEncoder("multilabel").fit(LABEL_LISTS)

    encoded = encoder.transform(LABEL_LISTS)

    assert list(encoder.classes_) == ["cat", "dog", "owl"]
    assert encoder.n_outputs == 3
    np.testing.assert_array_equal(encoded, [[1, 1, 0], [0, 0, 0], [0, 0, 1], [1, 0, 0]])


def test_label_series_encodes_like_label_lists():
    series = pd.Series(LABEL_LISTS, name="tags")
    from_lists = TargetEncoder("multilabel").fit(LABEL_LISTS)

    encoder = TargetEncoder("multilabel").fit(series)

    assert encoder.target_names_ == ["tags"]
    np.testing.assert_array_equal(
        encoder.transform(series), from_lists.transform(LABEL_LISTS)
    )


def test_indicator_columns_keep_their_order():
    encoder = TargetEncoder("multilabel").fit(INDICATOR)

    encoded = encoder.transform(INDICATOR)

    assert list(encoder.classes_) == ["spam", "urgent"]
    np.testing.assert_array_equal(encoded, [[0, 1], [1, 0], [1, 1]])


def test_indicator_list_is_read_as_matrix():
    frame = as_multilabel_frame([[0, 1], [1, 1]])

    assert frame.shape == (2, 2)


def test_equal_length_text_rows_are_label_lists():
    frame = as_multilabel_frame([["a", "b"], ["c", "d"]])

    assert frame.shape == (2, 1)
    assert frame.iloc[0, 0] == ["a", "b"]


def test_multilabel_decodes_to_indicator_rows():
    encoder = TargetEncoder("multilabel").fit(LABEL_LISTS)
    outputs = np.array([[0.9, 0.1, 0.5], [0.2, 0.6, 0.49]])

    decoded = encoder.decode(outputs)

    np.testing.assert_array_equal(decoded, [[1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(encoder.probabilities(outputs), outputs)


@pytest.mark.parametrize("target", [LABEL_LISTS, INDICATOR], ids=["lists", "indicator"])
def test_multilabel_config_round_trips(target):
    encoder = TargetEncoder("multilabel").fit(target)

    rebuilt = TargetEncoder.from_config(encoder.to_config())

    assert rebuilt.task_ == "multilabel"
    assert list(rebuilt.classes_) == list(encoder.classes_)
    np.testing.assert_array_equal(rebuilt.transform(target), encoder.transform(target))


def test_multilabel_is_never_inferred():
    encoder = TargetEncoder("auto").fit(INDICATOR.astype(int))

    assert encoder.task_ == "regression"


@pytest.mark.parametrize(
    "target, match",
    [
        (pd.Series([["a"], "b"], name="tags"), "row 2"),
        (pd.DataFrame({"spam": [0, 2]}), "'spam' has the value 2"),
        (pd.Series([["a"], [1]], name="tags"), "int, str"),
        (pd.Series([[], []], name="tags"), "no labels"),
    ],
    ids=["mixed rows", "not 0 or 1", "mixed label types", "no labels"],
)
def test_multilabel_fit_rejects_invalid_target(target, match):
    with pytest.raises(DataError, match=match):
        TargetEncoder("multilabel").fit(target)


def test_multilabel_transform_rejects_unseen_label():
    encoder = TargetEncoder("multilabel").fit(LABEL_LISTS)

    with pytest.raises(DataError, match="'emu' in row 2"):
        encoder.transform([["cat"], ["emu"]])


def test_multilabel_transform_rejects_wrong_column_count():
    encoder = TargetEncoder("multilabel").fit(INDICATOR)

    with pytest.raises(DataError, match="needs 2 columns"):
        encoder.transform(pd.DataFrame({"spam": [0, 1]}))


@pytest.mark.parametrize(
    "change",
    [
        {"classes": []},
        {"classes": ["a", "a"]},
        {"classes": ["a", 1]},
        {"target_names": ["x", "y", "z"]},
    ],
    ids=["no labels", "repeated", "mixed types", "column count"],
)
def test_multilabel_config_rejects_damage(change):
    config = {**TargetEncoder("multilabel").fit(INDICATOR).to_config(), **change}

    with pytest.raises(ModelFileError):
        TargetEncoder.from_config(config)


# Regression losses


def test_regression_spec_defaults_to_squared_error():
    assert regression_spec() == TASK_SPECS["regression"]


@pytest.mark.parametrize("loss", REGRESSION_LOSSES)
def test_regression_spec_uses_identity_output(loss):
    spec = regression_spec(loss)

    assert spec.output_activation == "identity"
    assert spec.loss == loss


def test_regression_spec_lists_loss_parameters():
    assert regression_spec("huber").loss_params == {"delta": 1.0}
    assert regression_spec("quantile", quantile=0.9).loss_params == {"quantile": 0.9}


def test_regression_spec_builds_matching_network():
    spec = regression_spec("huber", delta=0.5)

    network = Network(
        [3, 2],
        output_activation=spec.output_activation,
        loss=spec.loss,
        loss_params=spec.loss_params,
    )

    assert network.loss.delta == 0.5


@pytest.mark.parametrize(
    "loss, params, match",
    [
        ("binary_cross_entropy", {}, "regression loss must be one of"),
        ("huber", {"delta": -1.0}, "delta"),
        ("quantile", {"delta": 1.0}, "no parameter 'delta'"),
    ],
)
def test_regression_spec_rejects_invalid_loss(loss, params, match):
    with pytest.raises(ParameterError, match=match):
        regression_spec(loss, **params)


def test_encoder_spec_follows_regression_loss():
    encoder = TargetEncoder(
        "regression", regression_loss="quantile", loss_params={"quantile": 0.2}
    )

    encoder.fit(np.array([1.0, 2.0, 4.0]))

    assert encoder.spec == regression_spec("quantile", quantile=0.2)


def test_regression_loss_implies_regression():
    # Few distinct integers would otherwise be read as class labels.
    encoder = TargetEncoder(regression_loss="poisson").fit(np.array([0, 1, 3, 1]))

    assert encoder.task_ == "regression"


def test_regression_loss_rejected_for_classification():
    encoder = TargetEncoder("classification", regression_loss="huber")

    with pytest.raises(ParameterError, match="regression_loss='huber'"):
        encoder.fit(np.array(["a", "b", "a"]))


def test_poisson_target_is_not_standardized():
    counts = np.array([0.0, 3.0, 10.0])
    encoder = TargetEncoder("regression", regression_loss="poisson").fit(counts)

    np.testing.assert_array_equal(encoder.transform(counts)[:, 0], counts)


def test_poisson_decodes_log_rate_to_rate():
    encoder = TargetEncoder("regression", regression_loss="poisson")
    encoder.fit(np.array([0.0, 3.0, 10.0]))

    decoded = encoder.decode(np.array([[0.0], [np.log(4.0)]]))

    np.testing.assert_allclose(decoded, [1.0, 4.0])


def test_poisson_rejects_negative_target():
    encoder = TargetEncoder("regression", regression_loss="poisson")

    with pytest.raises(DataError, match="negative value -2 in row 3"):
        encoder.fit(np.array([1.0, 0.0, -2.0]))


def test_regression_loss_config_round_trips():
    encoder = TargetEncoder(regression_loss="huber", loss_params={"delta": 0.5})
    encoder.fit(np.array([1.5, 2.5, 4.0]))

    rebuilt = TargetEncoder.from_config(encoder.to_config())

    assert rebuilt.spec == encoder.spec


def test_squared_error_config_has_no_loss_keys():
    config = TargetEncoder().fit(np.array([1.5, 2.5, 4.0])).to_config()

    assert "regression_loss" not in config
    assert "loss_params" not in config


def test_config_rejects_unknown_regression_loss():
    config = TargetEncoder().fit(np.array([1.5, 2.5, 4.0])).to_config()
    config["regression_loss"] = "cubic"

    with pytest.raises(ModelFileError, match="cubic"):
        TargetEncoder.from_config(config)
