"""Score customers with array operations only: the serving hot path, without pandas or a pipeline.

``compile_scorer`` reads a fitted model (the baseline pipeline or the PyTorch model behind the
same feature step) and turns its feature building and encoding into numpy operations on
``CustomerArrays``. A model it does not recognise still serves, through its own
``predict_proba`` (``PipelineScorer``): slower, never wrong. ``max_difference`` is the self-check
that a compiled scorer agrees with the model it came from.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from . import schema
from .features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

NUMBER_COLUMNS = tuple(schema.NUMBERS)
#: Every category value of the contract, numbered once across all columns.
VALUE_NUMBERS = {
    value: number
    for number, value in enumerate(sorted({v for vs in schema.CATEGORIES.values() for v in vs}))
}
_YES = schema.INTERNET_ADDON.index("Yes")
_ADD_ON_POSITIONS = [CATEGORICAL_FEATURES.index(column) for column in schema.ADD_ONS]


def _column_codes() -> np.ndarray:
    """(column, value number) -> the value's code in that column, -1 where it does not belong."""
    table = np.full((len(CATEGORICAL_FEATURES), len(VALUE_NUMBERS)), -1, dtype=np.intp)
    for position, column in enumerate(CATEGORICAL_FEATURES):
        for code, value in enumerate(schema.CATEGORIES[column]):
            table[position, VALUE_NUMBERS[value]] = code
    return table


_COLUMN_CODES = _column_codes()
_CATEGORIES_OF_RECORD = itemgetter(*CATEGORICAL_FEATURES)
_NUMBERS_OF_RECORD = itemgetter(*NUMBER_COLUMNS)
_CATEGORIES_OF_ROW = itemgetter(*(schema.INPUT_COLUMNS.index(c) for c in CATEGORICAL_FEATURES))
_NUMBERS_OF_ROW = itemgetter(*(schema.INPUT_COLUMNS.index(c) for c in NUMBER_COLUMNS))


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
        return cls._gather(records, _CATEGORIES_OF_RECORD, _NUMBERS_OF_RECORD)

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence]) -> "CustomerArrays":
        """From value rows in ``schema.INPUT_COLUMNS`` order (values after those are ignored)."""
        return cls._gather(rows, _CATEGORIES_OF_ROW, _NUMBERS_OF_ROW)

    @classmethod
    def _gather(cls, rows: Sequence, categories_of, numbers_of) -> "CustomerArrays":
        """The hot path of a batch: each step is a C loop (itemgetter, dict lookup, fromiter),
        then one table lookup turns value numbers into each column's codes."""
        count, width = len(rows), len(CATEGORICAL_FEATURES)
        values = chain.from_iterable(map(categories_of, rows))
        numbered = np.fromiter(map(VALUE_NUMBERS.__getitem__, values), np.intp, count * width)
        codes = _COLUMN_CODES[np.arange(width), numbered.reshape(count, width)]
        if (codes < 0).any():
            raise KeyError("a category value of another column")
        numbers = np.array(list(map(numbers_of, rows)), dtype=np.float64)  # None -> NaN
        return cls(codes=codes, numbers=numbers.reshape(count, len(NUMBER_COLUMNS)))

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
        for column in ("SeniorCitizen", "tenure"):
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
        # Binary logistic regression is one dot product; other classifiers get the array.
        self.linear = isinstance(classifier, LogisticRegression) and len(classifier.classes_) == 2

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
            logits = encoded @ self.classifier.coef_[0] + self.classifier.intercept_[0]
            return 1.0 / (1.0 + np.exp(-logits))
        return self.classifier.predict_proba(encoded)[:, 1]


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
    steps = getattr(numeric, "named_steps", {})
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
