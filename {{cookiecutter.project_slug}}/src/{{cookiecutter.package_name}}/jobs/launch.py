"""Which process of a `torchrun` launch this is (one process: rank 0 of 1).

Torch-free, so every job can ask: under `torchrun` only rank 0 prepares data, writes files,
evaluates and registers; the other ranks only train.
"""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Launch:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @classmethod
    def from_env(cls) -> "Launch":
        """Read the variables torchrun sets (RANK, LOCAL_RANK, WORLD_SIZE)."""
        return cls(
            rank=int(os.environ.get("RANK", 0)),
            local_rank=int(os.environ.get("LOCAL_RANK", 0)),
            world_size=int(os.environ.get("WORLD_SIZE", 1)),
        )

    @property
    def is_main(self) -> bool:
        return self.rank == 0
