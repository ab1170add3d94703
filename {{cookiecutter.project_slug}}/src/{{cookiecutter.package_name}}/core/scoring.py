"""Score customers with array operations only: the serving hot path, without pandas or a pipeline.

``compile_scorer`` reads a fitted model (the baseline pipeline or the PyTorch model behind the
same feature step) and turns its feature building and encoding into numpy operations on
``CustomerArrays``. A model it does not recognise still serves, through its own
``predict_proba`` (``PipelineScorer``): slower, never wrong. ``max_difference`` is the self-check
that a compiled scorer agrees with the model it came from.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from . import schema
from .features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

NUMBER_COLUMNS = tuple(schema.NUMBERS)
#: Up to this many rows, boosted trees are walked in numpy; beyond, scikit-learn predicts.
TREE_WALK_ROWS = 16
#: Each category value's code (its position in the contract's tuple), per column.
CATEGORY_CODES = {
    column: {value: code for code, value in enumerate(values)}
    for column, values in schema.CATEGORIES.items()
}
_YES = schema.INTERNET_ADDON.index("Yes")
_ADD_ON_POSITIONS = [CATEGORICAL_FEATURES.index(column) for column in schema.ADD_ONS]
_INPUT_VALUES = itemgetter(*schema.INPUT_COLUMNS)
_CATEGORY_POSITIONS = [schema.INPUT_COLUMNS.index(column) for column in CATEGORICAL_FEATURES]
_NUMBER_POSITIONS = [schema.INPUT_COLUMNS.index(column) for column in NUMBER_COLUMNS]
_WHOLE_NUMBERS = [column for column, (_, _, whole) in schema.NUMBERS.items() if whole]


class UnsupportedModelError(ValueError):
    """The model's structure is not one ``compile_scorer`` knows; serve it as it is."""


@dataclass(frozen=True)
class CustomerArrays:
    """Validated customers as arrays: category codes (contract order) and raw numbers."""

    #: (rows, categorical columns): each value's position in ``schema.CATEGORIES[column]``.
    codes: np.ndarray
    #: (rows, numeric columns) in ``NUMBER_COLUMNS`` order, NaN where blank.
    numbers: np.ndarray

    @classmethod
    def from_records(cls, records: Sequence[Mapping]) -> "CustomerArrays":
        """From contract records (dicts) that passed validation."""
        return cls.from_rows(list(map(_INPUT_VALUES, records)))

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence]) -> "CustomerArrays":
        """From value rows in ``schema.INPUT_COLUMNS`` order (values after those are ignored).

        A category outside its column's contract raises KeyError. The serving hot path:
        one transpose, then a C loop per column (dict lookups into ``np.fromiter``).
        """
        count = len(rows)
        if count == 0:
            return cls(
                codes=np.empty((0, len(CATEGORICAL_FEATURES)), dtype=np.intp),
                numbers=np.empty((0, len(NUMBER_COLUMNS))),
            )
        columns = list(zip(*rows, strict=True))
        codes = [
            np.fromiter(map(CATEGORY_CODES[name].__getitem__, columns[position]), np.intp, count)
            for name, position in zip(CATEGORICAL_FEATURES, _CATEGORY_POSITIONS, strict=True)
        ]
        # np.array turns a blank (None) into NaN.
        numbers = [np.array(columns[position], dtype=np.float64) for position in _NUMBER_POSITIONS]
        return cls(codes=np.column_stack(codes), numbers=np.column_stack(numbers))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "CustomerArrays":
        """From typed contract rows (as the jobs read them)."""
        codes = np.column_stack(
            [
                pd.Categorical(frame[c], categories=schema.CATEGORIES[c]).codes
                for c in CATEGORICAL_FEATURES
            ]
        )
        if (codes < 0).any():
            raise KeyError("a category outside the data contract")
        numbers = frame[list(NUMBER_COLUMNS)].to_numpy(dtype=np.float64)
        return cls(codes=codes.astype(np.intp), numbers=numbers)

    def to_frame(self) -> pd.DataFrame:
        """Back to contract rows, for models that only take a frame."""
        frame = pd.DataFrame(self.numbers, columns=list(NUMBER_COLUMNS))
        for position, column in enumerate(CATEGORICAL_FEATURES):
            frame[column] = np.asarray(schema.CATEGORIES[column], dtype=object)[
                self.codes[:, position]
            ]
        for column in _WHOLE_NUMBERS:
            frame[column] = frame[column].astype("int64")
        return frame[list(schema.INPUT_COLUMNS)]

    def __len__(self) -> int:
        return len(self.codes)


def numeric_features(arrays: CustomerArrays) -> np.ndarray:
    """``features.build_features``' numeric columns, as one (rows, 5) float64 array."""
    senior, tenure, monthly, total = arrays.numbers.T
    total = np.where(np.isnan(total), tenure * monthly, total)
    add_ons = (arrays.codes[:, _ADD_ON_POSITIONS] == _YES).sum(axis=1)
    return np.column_stack([senior, tenure, monthly, total, add_ons.astype(np.float64)])


class PipelineScorer:
    """Any model, through its own ``predict_proba`` on a frame: the fallback."""

    kind = "pipeline"

    def __init__(self, model):
        self.model = model

    def score(self, arrays: CustomerArrays) -> np.ndarray:
        return self.model.predict_proba(arrays.to_frame())[:, 1]


class OneHotScorer:
    """The baseline: impute, scale, one-hot, then the classifier on one dense array."""

    kind = "compiled"

    def __init__(self, encode, classifier):
        numeric, categorical = _encode_steps(encode)
        self.median = numeric.named_steps["impute"].statistics_
        self.mean = numeric.named_steps["scale"].mean_
        self.scale = numeric.named_steps["scale"].scale_
        self.positions, self.width = _one_hot_positions(categorical, len(NUMERIC_FEATURES))
        self.classifier = classifier
        # Binary logistic regression is one dot product; boosted trees are walked in numpy
        # for a few rows; other classifiers (and large batches) get the array.
        self.linear = isinstance(classifier, LogisticRegression) and len(classifier.classes_) == 2
        self.trees = TreeWalker.of(classifier) if not np.isnan(self.median).any() else None

    def score(self, arrays: CustomerArrays) -> np.ndarray:
        rows = len(arrays)
        if rows == 0:  # scikit-learn refuses empty arrays
            return np.empty(0)
        numbers = numeric_features(arrays)
        numbers = np.where(np.isnan(numbers), self.median, numbers)
        # One spare column at the end takes categories the encoder never saw (all zero weight).
        encoded = np.zeros((rows, self.width + 1))
        encoded[:, : numbers.shape[1]] = (numbers - self.mean) / self.scale
        columns = self.positions[np.arange(self.positions.shape[0]), arrays.codes]
        encoded[np.arange(rows)[:, None], columns] = 1.0
        encoded = encoded[:, : self.width]
        if self.linear:
            return expit(encoded @ self.classifier.coef_[0] + self.classifier.intercept_[0])
        if self.trees is not None and rows <= TREE_WALK_ROWS:
            return expit(self.trees.raw(encoded))
        return self.classifier.predict_proba(encoded)[:, 1]


class TreeWalker:
    """A binary HistGradientBoostingClassifier's trees as flat arrays, walked all at once.

    scikit-learn predicts tree by tree, a Python call each: about 1.3 ms for 200 trees even
    for one row. Walking every tree one level per numpy step costs a fraction of that for a
    few rows; for large batches scikit-learn's own loop is faster (``TREE_WALK_ROWS``). The
    encoded array has no NaN (the imputer ran first), so missing-value routing is not needed.
    """

    def __init__(self, trees: list[np.ndarray], baseline: float):
        sizes = [len(nodes) for nodes in trees]
        self.roots = np.cumsum([0, *sizes[:-1]])
        nodes = np.concatenate(trees)
        offset = np.repeat(self.roots, sizes)
        leaf, index = nodes["is_leaf"].astype(bool), np.arange(len(nodes))
        # A leaf points at itself, so further steps leave a finished walk where it is.
        self.left = np.where(leaf, index, nodes["left"] + offset)
        self.right = np.where(leaf, index, nodes["right"] + offset)
        self.feature = nodes["feature_idx"].astype(np.intp)
        self.threshold = nodes["num_threshold"]
        self.value = nodes["value"]
        self.steps = int(nodes["depth"].max())
        self.baseline = baseline

    @classmethod
    def of(cls, classifier) -> "TreeWalker | None":
        """The walker for a binary model with numeric splits only; None for anything else."""
        if not isinstance(classifier, HistGradientBoostingClassifier):
            return None
        try:  # scikit-learn's internals: a version that changes them is served the slow way
            if classifier.n_trees_per_iteration_ != 1:
                return None
            trees = [predictors[0].nodes for predictors in classifier._predictors]
            baseline = float(np.ravel(classifier._baseline_prediction)[0])
            if any(nodes["is_categorical"].any() for nodes in trees):
                return None
            return cls(trees, baseline)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            return None

    def raw(self, encoded: np.ndarray) -> np.ndarray:
        """Baseline plus every tree's leaf value, summed in scikit-learn's order."""
        rows = np.arange(len(encoded))[:, None]
        node = np.tile(self.roots, (len(encoded), 1))
        for _ in range(self.steps):
            left = encoded[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(left, self.left[node], self.right[node])
        values = np.column_stack([np.full(len(encoded), self.baseline), self.value[node]])
        return np.cumsum(values, axis=1)[:, -1]  # sequential, as scikit-learn adds tree by tree


class TabularNetScorer:
    """The PyTorch model's forward pass in numpy (float32, as torch computes it): no torch."""

    kind = "compiled"

    def __init__(self, classifier):
        state = classifier.encoder_state_
        if list(state["vocabularies"]) != list(CATEGORICAL_FEATURES) or any(
            list(vocabulary) != list(schema.CATEGORIES[column])
            for column, vocabulary in state["vocabularies"].items()
        ):
            raise UnsupportedModelError("the encoder's vocabularies differ from the data contract")
        self.centre = np.asarray(state["centre"], dtype=np.float32)
        self.scale = np.asarray(state["scale"], dtype=np.float32)
        weights = classifier.weights_
        self.embeddings = [
            weights[f"embeddings.{i}.weight"] for i in range(len(CATEGORICAL_FEATURES))
        ]
        linear = sorted(
            int(key.split(".")[1]) for key in weights if key.startswith("mlp.") and "weight" in key
        )
        self.layers = [(weights[f"mlp.{i}.weight"].T, weights[f"mlp.{i}.bias"]) for i in linear]

    def score(self, arrays: CustomerArrays) -> np.ndarray:
        numbers = numeric_features(arrays).astype(np.float32)
        numbers = np.where(np.isnan(numbers), self.centre, numbers)
        # Index 0 of each embedding is "outside the contract": contract codes shift by one.
        parts = [table[arrays.codes[:, i] + 1] for i, table in enumerate(self.embeddings)]
        hidden = np.concatenate([*parts, (numbers - self.centre) / self.scale], axis=1)
        for depth, (weight, bias) in enumerate(self.layers):
            hidden = hidden @ weight + bias
            if depth < len(self.layers) - 1:
                hidden = np.maximum(hidden, 0.0)
        logits = hidden[:, 0]
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float64)


def compile_scorer(model) -> OneHotScorer | TabularNetScorer:
    """An array scorer equal to ``model.predict_proba(rows)[:, 1]``, or UnsupportedModelError."""
    if not isinstance(model, Pipeline) or "features" not in model.named_steps:
        raise UnsupportedModelError("not a pipeline starting with the project's feature step")
    steps = model.named_steps
    if list(steps) == ["features", "encode", "classifier"]:
        return OneHotScorer(steps["encode"], steps["classifier"])
    classifier = steps.get("classifier")
    if list(steps) == ["features", "classifier"] and hasattr(classifier, "weights_"):
        return TabularNetScorer(classifier)
    raise UnsupportedModelError(f"unknown pipeline steps {list(steps)}")


def scorer_for(model) -> OneHotScorer | TabularNetScorer | PipelineScorer:
    """The compiled scorer where the model allows one, else the model itself."""
    try:
        return compile_scorer(model)
    except UnsupportedModelError:
        return PipelineScorer(model)


def max_difference(scorer, model, rows: pd.DataFrame) -> float:
    """Largest gap between ``scorer`` and the model's own scores on contract rows."""
    expected = model.predict_proba(rows[list(schema.INPUT_COLUMNS)])[:, 1]
    return float(np.max(np.abs(scorer.score(CustomerArrays.from_frame(rows)) - expected)))


def _encode_steps(encode):
    """The fitted numeric (impute + scale) and categorical (one-hot) parts of the encoder."""
    parts = {name: (step, list(columns)) for name, step, columns in encode.transformers_}
    numeric, numeric_columns = parts.get("numeric", (None, []))
    categorical, categorical_columns = parts.get("categorical", (None, []))
    if numeric_columns != list(NUMERIC_FEATURES) or categorical_columns != list(
        CATEGORICAL_FEATURES
    ):
        raise UnsupportedModelError("the encoder's columns differ from the project's features")
    steps: Any = getattr(numeric, "named_steps", {})  # sklearn is untyped: checked below
    impute, scale = steps.get("impute"), steps.get("scale")
    if not (
        list(steps) == ["impute", "scale"]
        and type(impute) is SimpleImputer
        and not impute.add_indicator
        and type(scale) is StandardScaler
        and scale.with_mean
        and scale.with_std
    ):
        raise UnsupportedModelError("the numeric encoding is not median-style impute + scale")
    if not (
        type(categorical) is OneHotEncoder
        and categorical.handle_unknown == "ignore"
        and categorical.drop_idx_ is None
        and not getattr(categorical, "infrequent_categories_", None)
    ):
        raise UnsupportedModelError("one-hot encoding that drops, groups or refuses categories")
    return numeric, categorical


def _one_hot_positions(categorical, offset: int) -> tuple[np.ndarray, int]:
    """(columns, contract codes) -> encoded column; unseen categories -> the spare column."""
    longest = max(len(values) for values in schema.CATEGORIES.values())
    width = offset + sum(len(categories) for categories in categorical.categories_)
    positions = np.full((len(CATEGORICAL_FEATURES), longest), width, dtype=np.intp)
    for i, (column, seen) in enumerate(
        zip(CATEGORICAL_FEATURES, categorical.categories_, strict=True)
    ):
        where = {value: offset + j for j, value in enumerate(seen)}
        for code, value in enumerate(schema.CATEGORIES[column]):
            positions[i, code] = where.get(value, width)
        offset += len(seen)
    return positions, width
