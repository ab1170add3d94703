"""The PyTorch tabular model: categorical embeddings and an MLP, as a scikit-learn classifier.

Pure: no files, devices or environment. What a trained model *is* lives here (the encoder, the
network, the classifier that scores contract features on the CPU); how it is trained lives in
jobs/train_net.py. The classifier keeps its state as numpy arrays and plain values, so joblib and
skops store it like the baseline, and evaluation, the registry and serving treat both the same.
"""

import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn

from . import schema
from .features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

#: Rows scored at once: bounds the memory of predict_proba on millions of rows.
SCORING_BATCH = 65_536


class TabularEncoder:
    """Categories to indices (0: a value outside the contract), numbers to standard scores.

    The vocabularies are the data contract's allowed values and the numbers' mean and spread
    add up chunk by chunk, so fitting streams: it never needs the whole table in memory.
    """

    def __init__(self, vocabularies: dict[str, list[str]], centre: list[float], scale: list[float]):
        self.vocabularies = vocabularies
        self.centre = np.asarray(centre, dtype="float32")
        self.scale = np.asarray(scale, dtype="float32")

    @classmethod
    def fit(cls, chunks: Iterable[pd.DataFrame]) -> "TabularEncoder":
        """Fit on model features, given as a stream of chunks (one frame: ``[features]``)."""
        count = np.zeros(len(NUMERIC_FEATURES))
        total, squares = np.zeros_like(count), np.zeros_like(count)
        for chunk in chunks:
            numbers = chunk[list(NUMERIC_FEATURES)].to_numpy(dtype="float64")
            present = ~np.isnan(numbers)
            count += present.sum(axis=0)
            total += np.where(present, numbers, 0.0).sum(axis=0)
            squares += np.where(present, numbers**2, 0.0).sum(axis=0)
        centre = total / np.maximum(count, 1)
        spread = np.sqrt(np.maximum(squares / np.maximum(count, 1) - centre**2, 0.0))
        vocabularies = {column: list(schema.CATEGORIES[column]) for column in CATEGORICAL_FEATURES}
        return cls(vocabularies, centre.tolist(), np.where(spread > 0, spread, 1.0).tolist())

    def transform(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(category indices as int32, standardised numbers as float32), one row per customer."""
        categories = np.column_stack(
            [
                pd.Categorical(features[column].astype(str), categories=vocabulary).codes + 1
                for column, vocabulary in self.vocabularies.items()
            ]
        ).astype("int32")
        numbers = features[list(NUMERIC_FEATURES)].to_numpy(dtype="float32")
        numbers = np.where(np.isnan(numbers), self.centre, numbers)
        return categories, ((numbers - self.centre) / self.scale).astype("float32")

    @property
    def cardinalities(self) -> list[int]:
        return [len(vocabulary) + 1 for vocabulary in self.vocabularies.values()]

    def state(self) -> dict:
        return {
            "vocabularies": self.vocabularies,
            "centre": self.centre.tolist(),
            "scale": self.scale.tolist(),
        }


def embedding_width(cardinality: int) -> int:
    """A common rule of thumb: about half the categories, at most 16."""
    return min(16, (cardinality + 1) // 2)


class TabularNet(nn.Module):
    """One embedding per categorical column, concatenated with the numbers, then an MLP."""

    def __init__(
        self, cardinalities: list[int], numeric_width: int, hidden: tuple[int, ...], dropout: float
    ):
        super().__init__()
        self.embeddings = nn.ModuleList(
            nn.Embedding(size, embedding_width(size)) for size in cardinalities
        )
        width = sum(embedding_width(size) for size in cardinalities) + numeric_width
        layers: list[nn.Module] = []
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        self.mlp = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, categories: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
        """Churn logits, one per row."""
        embedded = [embed(categories[:, i]) for i, embed in enumerate(self.embeddings)]
        return self.mlp(torch.cat([*embedded, numbers], dim=1)).squeeze(1)


class TabularNetClassifier(ClassifierMixin, BaseEstimator):
    """A trained TabularNet that scores contract features on the CPU.

    Built by jobs/train_net.py (``from_trained``); ``fit`` is not how it learns, since training
    needs devices, checkpoints and perhaps several processes.
    """

    #: What loading it needs beyond the baseline's requirements (the registry logs these).
    extra_requirements = ("torch",)

    def __init__(self, hidden: tuple[int, ...] = (128, 64), dropout: float = 0.1):
        self.hidden = hidden
        self.dropout = dropout

    @classmethod
    def from_trained(
        cls, encoder: TabularEncoder, net: TabularNet, hidden, dropout, history: list[dict]
    ) -> "TabularNetClassifier":
        model = cls(hidden=tuple(hidden), dropout=dropout)
        model.encoder_state_ = encoder.state()
        model.weights_ = {
            name: tensor.detach().cpu().float().numpy() for name, tensor in net.state_dict().items()
        }
        model.history_ = history
        model.classes_ = np.array([0, 1])
        return model

    def fit(self, features, labels):
        raise NotImplementedError("train a TabularNetClassifier with jobs/train_net.py")

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        encoder, net = self._encoder(), self._network()
        scores = []
        with torch.inference_mode():
            for start in range(0, len(features), SCORING_BATCH):
                batch = features.iloc[start : start + SCORING_BATCH]
                categories, numbers = encoder.transform(batch)
                logits = net(torch.from_numpy(categories), torch.from_numpy(numbers))
                scores.append(torch.sigmoid(logits).double().numpy())
        churn = np.concatenate(scores) if scores else np.empty(0)
        return np.column_stack([1.0 - churn, churn])

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(features)[:, 1] >= 0.5).astype("int64")

    def weights_digest(self) -> str:
        """SHA-256 of the weights: equal digests mean equal models (e.g. across DDP ranks)."""
        digest = hashlib.sha256()
        for name in sorted(self.weights_):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(self.weights_[name]).tobytes())
        return digest.hexdigest()

    def _encoder(self) -> TabularEncoder:
        return TabularEncoder(**self.encoder_state_)

    def _network(self) -> TabularNet:
        if getattr(self, "_net", None) is None:
            net = TabularNet(
                self._encoder().cardinalities, len(NUMERIC_FEATURES), self.hidden, self.dropout
            )
            net.load_state_dict({k: torch.from_numpy(v) for k, v in self.weights_.items()})
            self._net = net.eval()
        return self._net

    def __getstate__(self) -> dict:
        # The rebuilt torch module is a cache: storing it would tie the file to torch's pickling.
        return {key: value for key, value in self.__dict__.items() if key != "_net"}
