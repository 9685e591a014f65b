"""scikit-learn estimators backed by mlpkit's NumPy engine.

:class:`MLPClassifier` and :class:`MLPRegressor` follow scikit-learn's
estimator conventions, so they work in pipelines, grid searches and
cross-validation, and they take scikit-learn's parameter names where the
concept is the same, so code written for ``sklearn.neural_network`` switches
by changing the import. They also take the engine's options that
scikit-learn lacks: the optimizers AdamW, RMSprop, Adagrad and Adadelta, the
step, exponential and cosine learning-rate schedules, an L1 penalty, dropout,
a max-norm constraint and more activations, maxout among them. Where they
differ from scikit-learn's estimators of the same name:

- ``alpha`` is mapped to the engine's batch-independent L2 penalty so that it
  weighs as much as in scikit-learn (see :mod:`mlpkit._estimator_base`);
- ``learning_rate="adaptive"`` reduces the rate through
  :class:`~mlpkit.schedules.ReduceOnPlateau` and stops after one plateau per
  possible division by 5, an approximation of scikit-learn's rule;
- :class:`MLPRegressor` also takes the absolute-error, Huber and quantile
  losses;
- ``tol`` is relative: an epoch improves when its loss is below
  ``best − tol · |best|``;
- early stopping watches the validation loss (``validation_scores_`` records
  the score alongside) and keeps the weights of its best epoch;
- Adam adds ``ε`` to the bias-corrected ``√v̂``, as ``torch.optim.Adam`` does
  (scikit-learn adds it before the correction, see :class:`mlpkit.optimizers.Adam`);
- weights start from He initialization for relu-like activations and Glorot
  otherwise (see :mod:`mlpkit.initializers`);
- ``fit`` logs each epoch at DEBUG level on the ``mlpkit.training`` logger
  instead of printing, so there is no ``verbose``.

Inputs must be numeric arrays. Scale them in a pipeline, for example with
``StandardScaler`` or a ``ColumnTransformer`` for mixed tables, because the
estimators use ``X`` and ``y`` as given. For raw tables with text columns,
:class:`mlpkit.MLP` learns that preprocessing itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import (
    check_classification_targets,
    is_multilabel,
    unique_labels,
)
from sklearn.utils.validation import column_or_1d

from ._estimator_base import BaseMLPEstimator
from .errors import DataError, ParameterError
from .tasks import TASK_SPECS, TaskSpec, regression_spec

__all__ = ["MLPClassifier", "MLPRegressor"]

MULTILABEL = "multilabel-indicator"


class MLPClassifier(ClassifierMixin, BaseMLPEstimator):
    """A multilayer perceptron classifier for binary, multiclass and multilabel targets.

    The output layer and loss follow the target: one sigmoid unit with binary
    cross-entropy for two classes, softmax with categorical cross-entropy for
    more, and one sigmoid unit per label with binary cross-entropy summed over
    labels for a label indicator matrix.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default (100,)
        Units of each hidden layer. ``()`` gives a network without hidden
        layers (logistic regression).
    activation : {"relu", "leaky_relu", "tanh", "logistic", "sigmoid", "identity", \
"elu", "gelu", "softplus", "maxout"}, default "relu"
        Activation of the hidden layers, see :mod:`mlpkit.activations`.
        ``"logistic"`` is scikit-learn's name for ``"sigmoid"``. With
        ``"maxout"`` each hidden unit outputs the largest of ``maxout_pieces``
        linear pieces, so the ``coefs_`` and ``intercepts_`` of each hidden
        layer have ``maxout_pieces`` columns per unit.
    solver : {"adam", "sgd", "lbfgs", "adamw", "rmsprop", "adagrad", \
"adadelta"}, default "adam"
        The optimizer. Every solver except ``"lbfgs"`` is stochastic: it takes
        one step per mini-batch with the class of :mod:`mlpkit.optimizers`
        that follows the rule of its ``torch.optim`` namesake. ``"lbfgs"`` runs
        L-BFGS on all the samples at once (:func:`~mlpkit.lbfgs.train_lbfgs`).
        It ignores ``batch_size``, ``early_stopping``, ``learning_rate`` and
        the settings of the other solvers and of the schedules, has no
        ``partial_fit``, and raises ParameterError with dropout or
        ``max_norm``.
    alpha : float, default 0.0001
        Strength of the L2 penalty on the weights, as in scikit-learn: the
        mean loss of a batch of ``n`` samples gains ``alpha · ‖W‖² / (2n)``,
        where ``n`` is the batch size, or the training set for lbfgs (see
        :mod:`mlpkit._estimator_base`).
    batch_size : int or "auto", default "auto"
        Samples per mini-batch, where ``"auto"`` is ``min(200, n_samples)``. Values
        above the number of training samples are clipped to it.
    learning_rate_init : float, default 0.001
        The learning rate ``η`` of the first step, > 0, which the schedule of
        ``learning_rate`` may change afterwards.
    max_iter : int, default 200
        Maximum number of epochs of ``fit``. ``partial_fit`` runs one epoch.
    shuffle : bool, default True
        Whether to shuffle the samples before each epoch.
    random_state : int, RandomState instance or None, default None
        Seeds the initial weights, the shuffling and the validation split. An
        int gives the same result on every fit.
    tol : float, default 1e-4
        Relative improvement that counts, in [0, 1): an epoch improves when its
        monitored loss is below ``best − tol · |best|``.
    warm_start : bool, default False
        Whether ``fit`` continues from the current weights, optimizer state
        (moments, velocity, step count) and schedule instead of starting
        afresh. The network's form is fixed when its weights are initialized,
        so changes of ``activation``, ``maxout_pieces``, the dropout rates or
        ``max_norm`` apply from the next fit that starts afresh, while
        ``alpha`` and ``l1`` apply to every call.
    momentum : float, default 0.9
        Momentum of SGD, in [0, 1], used with ``solver="sgd"`` only.
    nesterovs_momentum : bool, default True
        Whether SGD uses Nesterov momentum. Ignored when ``momentum`` is 0.
    early_stopping : bool, default False
        Whether to hold out ``validation_fraction`` of the training samples
        and stop when their loss has not improved for ``n_iter_no_change``
        epochs, keeping the weights of the best epoch. The split is stratified
        for single-label targets whose classes all have two or more samples.
        Without early stopping, ``fit`` stops on the training loss and keeps
        the last epoch's weights. ``partial_fit`` ignores it and trains on
        every sample it receives.
    validation_fraction : float, default 0.1
        Share of the training samples held out for early stopping, in (0, 1).
    beta_1 : float, default 0.9
        Decay rate of the first moment estimate of adam and adamw, in [0, 1).
    beta_2 : float, default 0.999
        Decay rate of the second moment estimate of adam and adamw, in [0, 1).
    epsilon : float, default 1e-8
        ``ε`` for numerical stability, > 0, passed unchanged to every solver
        but sgd and lbfgs. Adam and AdamW add it to ``√v̂``, RMSprop and
        Adagrad to the root of their squared-gradient sum or average, and
        Adadelta adds it inside both square roots. PyTorch's defaults differ
        for adagrad (1e-10) and adadelta (1e-6), so pass those to reproduce
        them.
    n_iter_no_change : int, default 10
        Epochs without improvement of the monitored loss before ``fit`` stops.
    learning_rate : {"constant", "invscaling", "adaptive", "step", \
"exponential", "cosine"}, default "constant"
        Schedule of the learning rate ``η``, starting from
        ``η₀ = learning_rate_init``, after ``t`` samples and ``e`` epochs:

        - ``"constant"``: ``η₀`` throughout;
        - ``"invscaling"``: ``η₀ / (t + 1)^power_t``, changed at the end of
          each epoch;
        - ``"adaptive"``: a division by 5 after more than
          ``n_iter_no_change − 1`` epochs whose loss falls by less than
          ``tol``, down to ``min_learning_rate`` at the lowest;
        - ``"step"``: ``η₀ · gamma^⌊e / step_size⌋``;
        - ``"exponential"``: ``η₀ · gammaᵉ``;
        - ``"cosine"``: ``η_min + (η₀ − η_min) (1 + cos(π e / T)) / 2`` until
          ``e = T``, then ``η_min``, where ``η_min = min_learning_rate`` and
          ``T = decay_epochs``.

        ``"invscaling"`` and ``"adaptive"`` apply to ``solver="sgd"`` alone,
        as in scikit-learn, and the other solvers ignore them. ``"step"``,
        ``"exponential"`` and ``"cosine"`` apply to every stochastic solver.
        ``"lbfgs"`` ignores every schedule. ``t`` and ``e`` count from the
        initialization of the weights, so ``warm_start`` and ``partial_fit``
        continue a schedule where the last call left it.
    power_t : float, default 0.5
        Exponent of ``"invscaling"``.
    max_fun : int, default 15000
        Cap on loss evaluations of ``solver="lbfgs"``.
    weight_decay : float, default 0.01
        Decoupled weight decay ``λ`` of ``solver="adamw"``, at least 0: each
        step first multiplies every weight and bias by ``1 − η λ``. Ignored by
        the other solvers.
    rho : float or None, default None
        Decay rate of the squared-gradient average of ``"rmsprop"`` and
        ``"adadelta"``, in [0, 1). None keeps each optimizer's default, 0.99
        for RMSprop and 0.9 for Adadelta. Adadelta's first steps have a size
        of about ``η √(ε / (1 − ρ))``, so it needs a ``learning_rate_init``
        near PyTorch's default of 1.0.
    step_size : int, default 10
        Epochs between two drops of ``learning_rate="step"``.
    gamma : float or None, default None
        Factor of ``"step"`` and ``"exponential"``, in (0, 1]. None is 0.1
        for ``"step"`` and 0.99 for ``"exponential"``.
    decay_epochs : int or None, default None
        ``T`` of ``"cosine"``, the epochs from ``learning_rate_init`` down to
        ``min_learning_rate``. None is the ``max_iter`` in effect when the
        weights are initialized.
    min_learning_rate : float, default 0.0
        Lowest rate of ``"cosine"`` and ``"adaptive"``, between 0 and
        ``learning_rate_init``.
    l1 : float, default 0.0
        Strength of the L1 penalty on the weights, at least 0, on the scale of
        ``alpha``: the mean loss of a batch of ``n`` samples gains
        ``l1 · Σ|W| / n``. With ``solver="lbfgs"`` convergence can be slow or
        stop early, because the penalty's gradient jumps where a weight
        crosses 0.
    input_dropout : float, default 0.0
        Probability, in [0, 1), that training drops each input feature of a
        sample. Dropout is inverted dropout (see
        :class:`~mlpkit.network.Network`), draws its masks from
        ``random_state``, and never applies to predictions.
    hidden_dropout : float or sequence of float, default 0.0
        Dropout rate of the hidden units, in [0, 1): one rate for every hidden
        layer or one per hidden layer.
    max_norm : float or None, default None
        Cap, > 0, on the Euclidean norm of each unit's incoming weights (each
        column of every ``coefs_[i]``), applied after every optimizer step;
        None for no cap.
    maxout_pieces : int, default 2
        Pieces per unit of ``activation="maxout"``, at least 2.
    class_weight : dict, list of dict, "balanced" or None, default None
        Weight of each class in the loss, multiplied into ``sample_weight``:
        a dict from label to weight, one dict per label for multilabel
        targets, or ``"balanced"`` for ``n_samples / (n_classes · count)``
        (see ``sklearn.utils.class_weight.compute_sample_weight``).
        ``partial_fit`` accepts dicts only, because "balanced" needs the
        counts of all the data.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, or the label column indices for multilabel targets.
    n_features_in_ : int
        Number of features seen during the first ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when ``X`` was a DataFrame with string column names.
    network_ : Network
        The trained network.
    optimizer_ : Optimizer
        The optimizer with its state, which ``warm_start`` and ``partial_fit``
        keep.
    schedule_ : LearningRateSchedule or None
        The schedule that sets ``optimizer_.learning_rate``, or None when the
        rate stays constant.
    coefs_ : list of ndarray
        Weight matrices, where ``coefs_[i]`` has shape ``(units of layer i,
        units of layer i + 1)``. Views into ``network_.parameters``.
    intercepts_ : list of ndarray
        Bias vectors, where ``intercepts_[i]`` has shape ``(units of layer i + 1,)``.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Units of the output layer.
    out_activation_ : str
        Activation of the output layer: ``"sigmoid"`` or ``"softmax"``.
    n_iter_ : int
        Epochs run since the weights were initialized.
    t_ : int
        Training samples processed since the weights were initialized.
    loss_ : float
        Training loss of the last epoch.
    loss_curve_ : list of float
        Training loss of each epoch: the sample-weighted mean of its batch
        losses.
    best_loss_ : float or None
        Lowest value of ``loss_curve_``, or None with ``early_stopping``.
    validation_loss_curve_ : list of float or None
        Validation loss of each epoch. It is None until a fit with
        ``early_stopping``, and has None entries for epochs run without it.
    validation_scores_ : list of float or None
        Accuracy on the validation samples after each epoch, laid out like
        ``validation_loss_curve_``.
    best_validation_loss_ : float or None
        Validation loss of the epoch whose weights the last early-stopping fit
        kept.
    best_validation_score_ : float or None
        Validation accuracy of that epoch.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from mlpkit.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> model = make_pipeline(
    ...     StandardScaler(), MLPClassifier(max_iter=300, random_state=0)
    ... )
    >>> model.fit(X, y).score(X, y) > 0.9
    True
    """

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        batch_size: int | str = "auto",
        learning_rate_init: float = 0.001,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        class_weight: Any = None,
        learning_rate: str = "constant",
        power_t: float = 0.5,
        alpha: float = 0.0001,
        max_fun: int = 15000,
        weight_decay: float = 0.01,
        rho: float | None = None,
        step_size: int = 10,
        gamma: float | None = None,
        decay_epochs: int | None = None,
        min_learning_rate: float = 0.0,
        l1: float = 0.0,
        input_dropout: float = 0.0,
        hidden_dropout: Any = 0.0,
        max_norm: float | None = None,
        maxout_pieces: int = 2,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            learning_rate=learning_rate,
            power_t=power_t,
            alpha=alpha,
            max_fun=max_fun,
            weight_decay=weight_decay,
            rho=rho,
            step_size=step_size,
            gamma=gamma,
            decay_epochs=decay_epochs,
            min_learning_rate=min_learning_rate,
            l1=l1,
            input_dropout=input_dropout,
            hidden_dropout=hidden_dropout,
            max_norm=max_norm,
            maxout_pieces=maxout_pieces,
        )
        self.class_weight = class_weight

    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None
    ) -> MLPClassifier:
        """Train the network for one epoch on ``(X, y)``.

        The first call initializes the weights exactly as ``fit`` would, so
        ``k`` calls on the same data give the weights of ``fit`` with
        ``max_iter=k`` when nothing stops ``fit`` earlier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a label indicator matrix.
        sample_weight : array-like of shape (n_samples,), default None
            Non-negative weight of each sample in the loss.
        classes : array-like of shape (n_classes,), default None
            Every class label that any call will see, required on the first
            call and optional afterwards. For a label indicator matrix, pass
            the column indices ``0 … n_labels − 1``.

        Returns
        -------
        self : object
            The estimator, trained one more epoch.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict(self, X: Any) -> NDArray:
        """Return the predicted class of each sample.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels from ``classes_``, or a 0/1 indicator matrix for multilabel
            targets (each label predicted where its probability exceeds 0.5).
        """
        outputs = self._forward(X)
        return self._label_binarizer.inverse_transform(outputs)

    def predict_proba(self, X: Any) -> NDArray:
        """Return the probability of each class.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)
            Columns follow ``classes_``. Rows sum to one except for multilabel
            targets, where each column is one label's own probability.
        """
        outputs = self._forward(X)
        if self._label_binarizer.y_type_ == "binary":
            return np.hstack([1.0 - outputs, outputs])
        return outputs

    def predict_log_proba(self, X: Any) -> NDArray:
        """Return the natural logarithm of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    # Hooks of BaseMLPEstimator

    def _check_parameters(self) -> None:
        super()._check_parameters()
        weights = self.class_weight
        if isinstance(weights, str):
            valid = weights == "balanced"
        else:
            valid = weights is None or isinstance(weights, (dict, list))
        if not valid:
            raise ParameterError(
                "class_weight must be a dict, a list of dicts, 'balanced' or None; "
                f"received: class_weight={weights!r}"
            )

    def _output_spec(self) -> TaskSpec:
        if self._label_binarizer.y_type_ == "multiclass":
            return TASK_SPECS["multiclass"]
        # Binary targets and each label of a multilabel target get a sigmoid
        # unit with binary cross-entropy.
        return TASK_SPECS["binary"]

    def _encode_target(
        self, y: NDArray, *, reset: bool, incremental: bool, classes: Any
    ) -> tuple[NDArray, NDArray]:
        check_classification_targets(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if reset:
            self._label_binarizer = self._fit_label_binarizer(y, incremental, classes)
            self.classes_ = self._label_binarizer.classes_
        else:
            self._check_known_labels(y, classes)
        return y, self._label_binarizer.transform(y)

    def _fit_label_binarizer(
        self, y: NDArray, incremental: bool, classes: Any
    ) -> LabelBinarizer:
        binarizer = LabelBinarizer()
        if not incremental:
            binarizer.fit(y)
        elif classes is None:
            raise ParameterError(
                "classes must be passed on the first call to partial_fit; list "
                "every class label, or the column indices of a label indicator "
                "matrix"
            )
        elif is_multilabel(y):
            n_labels = y.shape[1]
            if not np.array_equal(np.sort(np.asarray(classes)), np.arange(n_labels)):
                raise ParameterError(
                    f"for a label indicator matrix of {n_labels} columns, classes "
                    f"must be the column indices 0 … {n_labels - 1}; received: "
                    f"classes={classes!r}"
                )
            binarizer.fit(y)
        else:
            binarizer.fit(classes)
            self._raise_for_unknown_labels(y, binarizer.classes_)

        if binarizer.classes_.size < 2:
            raise DataError(
                f"y has one class ({binarizer.classes_[0]!r}); a classifier needs "
                "at least two classes"
            )
        return binarizer

    def _check_known_labels(self, y: NDArray, classes: Any) -> None:
        fitted_multilabel = self._label_binarizer.y_type_ == MULTILABEL
        if is_multilabel(y) != fitted_multilabel:
            fitted = "a label indicator matrix" if fitted_multilabel else "class labels"
            raise DataError(
                f"the classifier was fitted on {fitted}, so y must be {fitted} "
                "as well; call fit without warm_start to change the kind of target"
            )
        if classes is not None and not np.array_equal(
            unique_labels(classes), self.classes_
        ):
            raise ParameterError(
                f"classes must match the first call's {self.classes_.tolist()}; "
                f"received: classes={classes!r}"
            )
        if fitted_multilabel:
            if y.shape[1] != self.classes_.size:
                raise DataError(
                    f"y has {y.shape[1]} label columns, but the classifier was "
                    f"fitted on {self.classes_.size}"
                )
        else:
            self._raise_for_unknown_labels(y, self.classes_)

    @staticmethod
    def _raise_for_unknown_labels(y: NDArray, known: NDArray) -> None:
        unknown = np.setdiff1d(unique_labels(y), known)
        if unknown.size:
            raise DataError(
                f"y contains labels {unknown.tolist()} that are not among the "
                f"classes {known.tolist()}; pass every label in classes on the "
                "first partial_fit, or call fit without warm_start"
            )

    def _training_sample_weight(
        self, y: NDArray, sample_weight: NDArray | None, incremental: bool
    ) -> NDArray | None:
        weights = sample_weight
        if self.class_weight is not None:
            if incremental and isinstance(self.class_weight, str):
                raise ParameterError(
                    "class_weight='balanced' needs the class counts of all the "
                    "data, which partial_fit never sees at once; pass a dict, for "
                    "example from sklearn.utils.class_weight.compute_class_weight"
                )
            class_weights = compute_sample_weight(self.class_weight, y)
            weights = class_weights if weights is None else weights * class_weights
        if weights is not None and not incremental and y.ndim == 1:
            weighted_classes = np.unique(y[weights > 0])
            if weighted_classes.size < 2:
                raise DataError(
                    "sample_weight and class_weight leave positive weight on one "
                    f"class ({weighted_classes[0]!r}); a classifier needs at least "
                    "two classes"
                )
        return weights

    def _stratify_labels(self, y: NDArray) -> NDArray | None:
        return y if y.ndim == 1 else None

    def _score_outputs(
        self, outputs: NDArray, y: NDArray, sample_weight: NDArray | None
    ) -> float:
        predictions = self._label_binarizer.inverse_transform(outputs)
        return float(accuracy_score(y, predictions, sample_weight=sample_weight))


class MLPRegressor(RegressorMixin, BaseMLPEstimator):
    """A multilayer perceptron regressor with one or several outputs.

    The output layer is linear (identity) and the loss is, by default, the
    squared error ``½‖ŷ − y‖²`` per sample, averaged with the sample weights.
    Targets are used as given, so scale large ones, for example with
    ``sklearn.compose.TransformedTargetRegressor``.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default (100,)
        Units of each hidden layer. ``()`` gives a linear model.
    activation : {"relu", "leaky_relu", "tanh", "logistic", "sigmoid", "identity", \
"elu", "gelu", "softplus", "maxout"}, default "relu"
        Activation of the hidden layers, see :mod:`mlpkit.activations`.
        ``"logistic"`` is scikit-learn's name for ``"sigmoid"``. With
        ``"maxout"`` each hidden unit outputs the largest of ``maxout_pieces``
        linear pieces, so the ``coefs_`` and ``intercepts_`` of each hidden
        layer have ``maxout_pieces`` columns per unit.
    solver : {"adam", "sgd", "lbfgs", "adamw", "rmsprop", "adagrad", \
"adadelta"}, default "adam"
        The optimizer. Every solver except ``"lbfgs"`` is stochastic: it takes
        one step per mini-batch with the class of :mod:`mlpkit.optimizers`
        that follows the rule of its ``torch.optim`` namesake. ``"lbfgs"`` runs
        L-BFGS on all the samples at once (:func:`~mlpkit.lbfgs.train_lbfgs`).
        It ignores ``batch_size``, ``early_stopping``, ``learning_rate`` and
        the settings of the other solvers and of the schedules, has no
        ``partial_fit``, and raises ParameterError with dropout or
        ``max_norm``.
    alpha : float, default 0.0001
        Strength of the L2 penalty on the weights, as in scikit-learn: the
        mean loss of a batch of ``n`` samples gains ``alpha · ‖W‖² / (2n)``,
        where ``n`` is the batch size, or the training set for lbfgs (see
        :mod:`mlpkit._estimator_base`).
    batch_size : int or "auto", default "auto"
        Samples per mini-batch, where ``"auto"`` is ``min(200, n_samples)``. Values
        above the number of training samples are clipped to it.
    learning_rate_init : float, default 0.001
        The learning rate ``η`` of the first step, > 0, which the schedule of
        ``learning_rate`` may change afterwards.
    max_iter : int, default 200
        Maximum number of epochs of ``fit``. ``partial_fit`` runs one epoch.
    shuffle : bool, default True
        Whether to shuffle the samples before each epoch.
    random_state : int, RandomState instance or None, default None
        Seeds the initial weights, the shuffling and the validation split. An
        int gives the same result on every fit.
    tol : float, default 1e-4
        Relative improvement that counts, in [0, 1): an epoch improves when its
        monitored loss is below ``best − tol · |best|``.
    warm_start : bool, default False
        Whether ``fit`` continues from the current weights, optimizer state
        (moments, velocity, step count) and schedule instead of starting
        afresh. The network's form is fixed when its weights are initialized,
        so changes of ``activation``, ``maxout_pieces``, the dropout rates or
        ``max_norm`` apply from the next fit that starts afresh, while
        ``alpha`` and ``l1`` apply to every call.
    momentum : float, default 0.9
        Momentum of SGD, in [0, 1], used with ``solver="sgd"`` only.
    nesterovs_momentum : bool, default True
        Whether SGD uses Nesterov momentum. Ignored when ``momentum`` is 0.
    early_stopping : bool, default False
        Whether to hold out ``validation_fraction`` of the training samples and
        stop when their loss has not improved for ``n_iter_no_change`` epochs,
        keeping the weights of the best epoch. Without it, ``fit`` stops on the
        training loss and keeps the last epoch's weights. ``partial_fit``
        ignores it and trains on every sample it receives.
    validation_fraction : float, default 0.1
        Share of the training samples held out for early stopping, in (0, 1).
    beta_1 : float, default 0.9
        Decay rate of the first moment estimate of adam and adamw, in [0, 1).
    beta_2 : float, default 0.999
        Decay rate of the second moment estimate of adam and adamw, in [0, 1).
    epsilon : float, default 1e-8
        ``ε`` for numerical stability, > 0, passed unchanged to every solver
        but sgd and lbfgs. Adam and AdamW add it to ``√v̂``, RMSprop and
        Adagrad to the root of their squared-gradient sum or average, and
        Adadelta adds it inside both square roots. PyTorch's defaults differ
        for adagrad (1e-10) and adadelta (1e-6), so pass those to reproduce
        them.
    n_iter_no_change : int, default 10
        Epochs without improvement of the monitored loss before ``fit`` stops.
    learning_rate : {"constant", "invscaling", "adaptive", "step", \
"exponential", "cosine"}, default "constant"
        Schedule of the learning rate ``η``, starting from
        ``η₀ = learning_rate_init``, after ``t`` samples and ``e`` epochs:

        - ``"constant"``: ``η₀`` throughout;
        - ``"invscaling"``: ``η₀ / (t + 1)^power_t``, changed at the end of
          each epoch;
        - ``"adaptive"``: a division by 5 after more than
          ``n_iter_no_change − 1`` epochs whose loss falls by less than
          ``tol``, down to ``min_learning_rate`` at the lowest;
        - ``"step"``: ``η₀ · gamma^⌊e / step_size⌋``;
        - ``"exponential"``: ``η₀ · gammaᵉ``;
        - ``"cosine"``: ``η_min + (η₀ − η_min) (1 + cos(π e / T)) / 2`` until
          ``e = T``, then ``η_min``, where ``η_min = min_learning_rate`` and
          ``T = decay_epochs``.

        ``"invscaling"`` and ``"adaptive"`` apply to ``solver="sgd"`` alone,
        as in scikit-learn, and the other solvers ignore them. ``"step"``,
        ``"exponential"`` and ``"cosine"`` apply to every stochastic solver.
        ``"lbfgs"`` ignores every schedule. ``t`` and ``e`` count from the
        initialization of the weights, so ``warm_start`` and ``partial_fit``
        continue a schedule where the last call left it.
    power_t : float, default 0.5
        Exponent of ``"invscaling"``.
    max_fun : int, default 15000
        Cap on loss evaluations of ``solver="lbfgs"``.
    weight_decay : float, default 0.01
        Decoupled weight decay ``λ`` of ``solver="adamw"``, at least 0: each
        step first multiplies every weight and bias by ``1 − η λ``. Ignored by
        the other solvers.
    rho : float or None, default None
        Decay rate of the squared-gradient average of ``"rmsprop"`` and
        ``"adadelta"``, in [0, 1). None keeps each optimizer's default, 0.99
        for RMSprop and 0.9 for Adadelta. Adadelta's first steps have a size
        of about ``η √(ε / (1 − ρ))``, so it needs a ``learning_rate_init``
        near PyTorch's default of 1.0.
    step_size : int, default 10
        Epochs between two drops of ``learning_rate="step"``.
    gamma : float or None, default None
        Factor of ``"step"`` and ``"exponential"``, in (0, 1]. None is 0.1
        for ``"step"`` and 0.99 for ``"exponential"``.
    decay_epochs : int or None, default None
        ``T`` of ``"cosine"``, the epochs from ``learning_rate_init`` down to
        ``min_learning_rate``. None is the ``max_iter`` in effect when the
        weights are initialized.
    min_learning_rate : float, default 0.0
        Lowest rate of ``"cosine"`` and ``"adaptive"``, between 0 and
        ``learning_rate_init``.
    l1 : float, default 0.0
        Strength of the L1 penalty on the weights, at least 0, on the scale of
        ``alpha``: the mean loss of a batch of ``n`` samples gains
        ``l1 · Σ|W| / n``. With ``solver="lbfgs"`` convergence can be slow or
        stop early, because the penalty's gradient jumps where a weight
        crosses 0.
    input_dropout : float, default 0.0
        Probability, in [0, 1), that training drops each input feature of a
        sample. Dropout is inverted dropout (see
        :class:`~mlpkit.network.Network`), draws its masks from
        ``random_state``, and never applies to predictions.
    hidden_dropout : float or sequence of float, default 0.0
        Dropout rate of the hidden units, in [0, 1): one rate for every hidden
        layer or one per hidden layer.
    max_norm : float or None, default None
        Cap, > 0, on the Euclidean norm of each unit's incoming weights (each
        column of every ``coefs_[i]``), applied after every optimizer step;
        None for no cap.
    maxout_pieces : int, default 2
        Pieces per unit of ``activation="maxout"``, at least 2.
    loss : {"squared_error", "absolute_error", "huber", "poisson", "quantile"}, \
default "squared_error"
        The regression loss, see :mod:`mlpkit.losses`. With ``"poisson"`` the
        targets must be non-negative counts, the network predicts their
        log-rate and :meth:`predict` returns ``e^ŷ``.
    huber_delta : float, default 1.0
        Where Huber's loss turns from quadratic to linear, in target units.
    quantile : float, default 0.5
        The quantile in (0, 1) that ``loss="quantile"`` predicts.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during the first ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when ``X`` was a DataFrame with string column names.
    network_ : Network
        The trained network.
    optimizer_ : Optimizer
        The optimizer with its state, which ``warm_start`` and ``partial_fit``
        keep.
    schedule_ : LearningRateSchedule or None
        The schedule that sets ``optimizer_.learning_rate``, or None when the
        rate stays constant.
    coefs_ : list of ndarray
        Weight matrices, where ``coefs_[i]`` has shape ``(units of layer i,
        units of layer i + 1)``. Views into ``network_.parameters``.
    intercepts_ : list of ndarray
        Bias vectors, where ``intercepts_[i]`` has shape ``(units of layer i + 1,)``.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of targets.
    out_activation_ : str
        Activation of the output layer, ``"identity"``.
    n_iter_ : int
        Epochs run since the weights were initialized.
    t_ : int
        Training samples processed since the weights were initialized.
    loss_ : float
        Training loss of the last epoch.
    loss_curve_ : list of float
        Training loss of each epoch: the sample-weighted mean of its batch
        losses.
    best_loss_ : float or None
        Lowest value of ``loss_curve_``, or None with ``early_stopping``.
    validation_loss_curve_ : list of float or None
        Validation loss of each epoch. It is None until a fit with
        ``early_stopping``, and has None entries for epochs run without it.
    validation_scores_ : list of float or None
        R² on the validation samples after each epoch, laid out like
        ``validation_loss_curve_``.
    best_validation_loss_ : float or None
        Validation loss of the epoch whose weights the last early-stopping fit
        kept.
    best_validation_score_ : float or None
        Validation R² of that epoch.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from mlpkit.sklearn import MLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> model = make_pipeline(
    ...     StandardScaler(),
    ...     MLPRegressor(learning_rate_init=0.01, max_iter=500, random_state=0),
    ... )
    >>> model.fit(X, y / 100).score(X, y / 100) > 0.5
    True
    """

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        batch_size: int | str = "auto",
        learning_rate_init: float = 0.001,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        learning_rate: str = "constant",
        power_t: float = 0.5,
        alpha: float = 0.0001,
        max_fun: int = 15000,
        weight_decay: float = 0.01,
        rho: float | None = None,
        step_size: int = 10,
        gamma: float | None = None,
        decay_epochs: int | None = None,
        min_learning_rate: float = 0.0,
        l1: float = 0.0,
        input_dropout: float = 0.0,
        hidden_dropout: Any = 0.0,
        max_norm: float | None = None,
        maxout_pieces: int = 2,
        loss: str = "squared_error",
        huber_delta: float = 1.0,
        quantile: float = 0.5,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            learning_rate=learning_rate,
            power_t=power_t,
            alpha=alpha,
            max_fun=max_fun,
            weight_decay=weight_decay,
            rho=rho,
            step_size=step_size,
            gamma=gamma,
            decay_epochs=decay_epochs,
            min_learning_rate=min_learning_rate,
            l1=l1,
            input_dropout=input_dropout,
            hidden_dropout=hidden_dropout,
            max_norm=max_norm,
            maxout_pieces=maxout_pieces,
        )
        self.loss = loss
        self.huber_delta = huber_delta
        self.quantile = quantile

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train the network for one epoch on ``(X, y)``.

        The first call initializes the weights exactly as ``fit`` would, so
        ``k`` calls on the same data give the weights of ``fit`` with
        ``max_iter=k`` when nothing stops ``fit`` earlier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.
        sample_weight : array-like of shape (n_samples,), default None
            Non-negative weight of each sample in the loss.

        Returns
        -------
        self : object
            The estimator, trained one more epoch.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: Any) -> NDArray:
        """Return the predicted target values.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            One column per target, or a 1-D array for a single target.
        """
        outputs = self._forward(X)
        if self.loss == "poisson":
            outputs = np.exp(outputs)
        return outputs[:, 0] if self.n_outputs_ == 1 else outputs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # Hooks of BaseMLPEstimator

    def _check_parameters(self) -> None:
        super()._check_parameters()
        # regression_spec raises ParameterError for an invalid loss or parameter.
        self._output_spec()

    def _output_spec(self) -> TaskSpec:
        params = {}
        if self.loss == "huber":
            params["delta"] = self.huber_delta
        elif self.loss == "quantile":
            params["quantile"] = self.quantile
        return regression_spec(self.loss, **params)

    def _encode_target(
        self, y: NDArray, *, reset: bool, incremental: bool, classes: Any
    ) -> tuple[NDArray, NDArray]:
        targets = y.reshape(-1, 1) if y.ndim == 1 else y
        if self.loss == "poisson" and np.any(targets < 0):
            raise DataError(
                "loss='poisson' needs non-negative targets, such as counts; "
                f"received a minimum of {targets.min():g}"
            )
        if not reset and targets.shape[1] != self.n_outputs_:
            raise DataError(
                f"y must have {self.n_outputs_} outputs, as in the first fit; "
                f"received y of shape {y.shape}. Call fit without warm_start to "
                "change the number of outputs"
            )
        return y, targets.astype(np.float64)

    def _score_outputs(
        self, outputs: NDArray, y: NDArray, sample_weight: NDArray | None
    ) -> float:
        if y.shape[0] < 2:
            # R² is undefined for one sample. Early stopping watches the loss,
            # so a NaN score does not change when training stops.
            return float("nan")
        if self.loss == "poisson":
            outputs = np.exp(outputs)
        predictions = outputs[:, 0] if y.ndim == 1 else outputs
        return float(r2_score(y, predictions, sample_weight=sample_weight))
