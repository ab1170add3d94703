"""Train the TabularNet: one process, or data-parallel under `torchrun` (gloo on CPU, NCCL on GPU).

    python -m <package> train                                    # one process
    torchrun --standalone --nproc-per-node=4 -m <package> train  # four GPUs (or CPU processes)
    torchrun --nnodes=2 --nproc-per-node=8 --rdzv-endpoint=host:29400 -m <package> train

The device is CUDA, then Apple MPS, then the CPU (``tabular_net.device`` names one instead).
CUDA trains in mixed precision (bf16 where the card has it, else fp16 with loss scaling); the CPU
trains seeded and deterministic. Early stopping watches the loss on a validation share of the
training split; a checkpoint after every epoch lets an interrupted run resume where it stopped.
Only rank 0 writes files or shows progress.
"""

import hashlib
import json
import sys
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from sklearn.metrics import roc_auc_score
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    RandomSampler,
    TensorDataset,
)
from tqdm.auto import tqdm

from ..configs import ModelConfig, TabularNetConfig
from ..core.features import NUMERIC_FEATURES, build_features, churn_labels
from ..core.models import with_features
from ..core.schema import INPUT_COLUMNS
from ..core.tabular_net import TabularEncoder, TabularNet, TabularNetClassifier
from ..io.datasets import iter_customers, save_model
from .launch import Launch
from .train import TrainResult

CHECKPOINT = "tabular_net.pt"
#: Rows read at once while encoding the training table.
READ_CHUNK_ROWS = 200_000
#: Called after each epoch with its record (tests use it to interrupt a run).
EpochHook = Callable[[dict], None]


def choose_device(wanted: str, local_rank: int = 0) -> torch.device:
    """CUDA, then MPS, then CPU for ``auto``; a named device that is missing is an error."""
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
        "cpu": True,
    }
    if wanted == "auto":
        wanted = next(name for name, present in available.items() if present)
    if not available[wanted]:
        raise RuntimeError(f"model.tabular_net.device={wanted}, but this machine has no {wanted}")
    return torch.device(f"cuda:{local_rank}") if wanted == "cuda" else torch.device(wanted)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype, or None for full fp32 (always off the GPU)."""
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def run(
    config: ModelConfig,
    train_table: Path,
    model_file: Path,
    progress: bool = True,
    on_epoch: EpochHook | None = None,
) -> TrainResult:
    """Train on ``train_table`` and save the model (rank 0) beside the baseline's."""
    launch = Launch.from_env()
    device = choose_device(config.tabular_net.device, launch.local_rank)
    # Under torchrun the group forms once every rank arrives, so rank 0 has finished preparing
    # the data before any rank reads it.
    with process_group(launch, device):
        encoder, table = encode_table(train_table)
        checkpoints = model_file.parent / "checkpoints"
        classifier = train_net(
            config, encoder, table, device, launch, checkpoints, progress, on_epoch
        )
    if launch.is_main:
        save_model(with_features(classifier), model_file)
    if launch.world_size > 1:
        rank = f"rank {launch.rank} of {launch.world_size}"
        # One write, newline included: the ranks share one stderr, and an unbuffered print
        # writes its text and its newline apart, so two ranks' lines could run together.
        sys.stderr.write(f"{rank}: weights sha256 {classifier.weights_digest()}\n")
    return TrainResult(rows=len(table.labels), kind=config.kind, model=model_file)


@dataclass(frozen=True)
class EncodedTable:
    """A training table as the network reads it: compact arrays, no pandas strings."""

    categories: np.ndarray  # int32, one column per categorical feature
    numbers: np.ndarray  # float32, standardised
    labels: np.ndarray  # float32, 1.0 = churned


def encode_table(
    path: Path, chunk_rows: int = READ_CHUNK_ROWS
) -> tuple[TabularEncoder, EncodedTable]:
    """Two passes over the table in chunks: fit the encoder, then encode each chunk.

    Memory is the encoded arrays (about 70 bytes a row) plus one chunk, not the whole table.
    """

    def chunks():  # read twice rather than held: the table may not fit in memory
        for chunk in iter_customers(path, chunk_rows):
            yield build_features(chunk[list(INPUT_COLUMNS)]), churn_labels(chunk)

    encoder = TabularEncoder.fit(features for features, _ in chunks())
    parts = [(*encoder.transform(x), y.to_numpy("float32")) for x, y in chunks()]
    categories, numbers, labels = (np.concatenate(column) for column in zip(*parts, strict=True))
    return encoder, EncodedTable(categories, numbers, labels)


def train_net(
    config: ModelConfig,
    encoder: TabularEncoder,
    table: EncodedTable,
    device: torch.device,
    launch: Launch,
    checkpoint_dir: Path,
    progress: bool = True,
    on_epoch: EpochHook | None = None,
) -> TabularNetClassifier:
    """Fit on model features; every rank returns the same classifier (the best epoch's)."""
    net_config = config.tabular_net
    seed_everything(config.seed, device)
    train, valid = _datasets(table, net_config, config.seed)
    net = TabularNet(
        encoder.cardinalities, len(NUMERIC_FEATURES), net_config.hidden, net_config.dropout
    ).to(device)
    trainer = Trainer(net_config, net, device, launch, config.seed)
    checkpoint = checkpoint_dir / CHECKPOINT
    fingerprint = _fingerprint(net_config, config.seed, train)
    trainer.resume(checkpoint, fingerprint)
    for epoch in range(trainer.epoch + 1, net_config.max_epochs + 1):
        record = trainer.run_epoch(epoch, train, valid, progress)
        if launch.is_main:
            trainer.save(checkpoint, fingerprint)
        if on_epoch:
            on_epoch(record)
        if trainer.should_stop():
            break
    trainer.restore_best()
    if launch.is_main:
        checkpoint.unlink(missing_ok=True)
    return TabularNetClassifier.from_trained(
        encoder, net, net_config.hidden, net_config.dropout, trainer.history
    )


@contextmanager
def process_group(launch: Launch, device: torch.device):
    """A process group for DDP when `torchrun` started several processes; nothing otherwise."""
    if launch.world_size == 1:
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def seed_everything(seed: int, device: torch.device) -> None:
    torch.manual_seed(seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)


def _datasets(
    table: EncodedTable, config: TabularNetConfig, seed: int
) -> tuple[TensorDataset, TensorDataset]:
    """A seeded validation share held out for early stopping; the rest to train on."""
    order = np.random.default_rng(seed).permutation(len(table.labels))
    held = max(1, int(len(order) * config.validation_share))

    def tensors(rows: np.ndarray) -> TensorDataset:
        arrays = (table.categories[rows], table.numbers[rows], table.labels[rows])
        return TensorDataset(*(torch.from_numpy(array) for array in arrays))

    return tensors(order[held:]), tensors(order[:held])


def _fingerprint(config: TabularNetConfig, seed: int, train: TensorDataset) -> str:
    """What a checkpoint must match to be resumed: the config, the seed and the data."""
    digest = hashlib.sha256(json.dumps([config.model_dump(mode="json"), seed]).encode())
    for tensor in train.tensors:
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


class Trainer:
    """The optimisation state of one run: what a checkpoint saves and a resume restores."""

    def __init__(
        self, config: TabularNetConfig, net: TabularNet, device: torch.device, launch, seed: int
    ):
        self.config, self.net, self.device = config, net, device
        self.launch, self.seed = launch, seed
        # DDP averages the gradients of every rank, so all ranks keep identical weights.
        self.model: torch.nn.Module = net
        if launch.world_size > 1:
            device_ids = [device.index] if device.type == "cuda" else None
            self.model = DistributedDataParallel(net, device_ids=device_ids)
        self.optimizer = torch.optim.AdamW(
            net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self.dtype = autocast_dtype(config.precision, device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.dtype == torch.float16)
        self.loss = torch.nn.BCEWithLogitsLoss()
        self.epoch, self.best_loss, self.bad_epochs = 0, float("inf"), 0
        self.best_weights = self._snapshot()
        self.history: list[dict] = []

    def batches(self, data: TensorDataset, epoch: int) -> DataLoader:
        """Shuffled batches; under DDP each rank gets its own share (DistributedSampler)."""
        sampler: DistributedSampler[int] | RandomSampler
        if self.launch.world_size > 1:
            sampler = DistributedSampler(data, shuffle=True, seed=self.seed)
            sampler.set_epoch(epoch)
        else:
            generator = torch.Generator().manual_seed(self.seed + epoch)
            sampler = RandomSampler(data, generator=generator)
        # Whole batches by index: a TensorDataset slices all rows of a batch at once.
        batches = BatchSampler(sampler, self.config.batch_size, drop_last=False)
        return DataLoader(data, sampler=batches, batch_size=None)

    def run_epoch(
        self, epoch: int, train: TensorDataset, valid: TensorDataset, progress: bool
    ) -> dict:
        self.model.train()
        loader = self.batches(train, epoch)
        bar = tqdm(
            loader,
            desc=f"epoch {epoch}/{self.config.max_epochs}",
            unit="batch",
            leave=False,
            disable=not (progress and self.launch.is_main),
        )
        total, rows = 0.0, 0
        for categories, numbers, target in bar:
            loss = self.step(categories, numbers, target)
            total, rows = total + loss * len(target), rows + len(target)
            bar.set_postfix(loss=f"{total / rows:.4f}")
        valid_loss, valid_auc = self.validate(valid)
        self.epoch = epoch
        if valid_loss < self.best_loss - 1e-6:
            self.best_loss, self.bad_epochs = valid_loss, 0
            self.best_weights = self._snapshot()
        else:
            self.bad_epochs += 1
        record = {
            "epoch": epoch,
            "train_loss": round(total / rows, 6),
            "valid_loss": round(valid_loss, 6),
            "valid_roc_auc": round(valid_auc, 6),
        }
        self.history.append(record)
        return record

    def step(self, categories, numbers, target) -> float:
        categories, numbers, target = (t.to(self.device) for t in (categories, numbers, target))
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None):
            loss = self.loss(self.model(categories, numbers).float(), target)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(loss.detach())

    @torch.no_grad()
    def validate(self, valid: TensorDataset) -> tuple[float, float]:
        """Loss and ROC-AUC on the whole validation share (every rank sees the same numbers)."""
        self.net.eval()
        categories, numbers, target = (t.to(self.device) for t in valid.tensors)
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None):
            logits = self.net(categories, numbers).float()
        loss = float(self.loss(logits, target))
        labels = target.cpu().numpy()
        auc = roc_auc_score(labels, logits.cpu().numpy()) if 0 < labels.sum() < len(labels) else 0.5
        return loss, float(auc)

    def should_stop(self) -> bool:
        return self.bad_epochs >= self.config.patience

    def _snapshot(self) -> dict[str, torch.Tensor]:
        """A copy of the current weights (the best epoch's are kept this way)."""
        return {name: value.detach().clone() for name, value in self.net.state_dict().items()}

    def restore_best(self) -> None:
        self.net.load_state_dict(self.best_weights)

    def save(self, path: Path, fingerprint: str) -> None:
        """Everything to continue after this epoch, written atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        torch.save(
            {
                "fingerprint": fingerprint,
                "epoch": self.epoch,
                "net": self.net.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict(),
                "best_loss": self.best_loss,
                "bad_epochs": self.bad_epochs,
                "best_weights": self.best_weights,
                "history": self.history,
                "rng": torch.get_rng_state(),
            },
            partial,
        )
        partial.replace(path)

    def resume(self, path: Path, fingerprint: str) -> None:
        """Continue from ``path`` if it was written by this same config and data."""
        if not path.is_file():
            return
        state = torch.load(path, map_location=self.device, weights_only=True)
        if state["fingerprint"] != fingerprint:
            return  # another config or dataset: start afresh (the file is replaced)
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.best_loss = state["epoch"], state["best_loss"]
        self.bad_epochs, self.best_weights = state["bad_epochs"], state["best_weights"]
        self.history = state["history"]
        torch.set_rng_state(state["rng"].cpu())
