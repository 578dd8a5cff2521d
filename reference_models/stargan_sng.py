"""StarGAN-SNG: one StarGAN per dataset of a task, as the paper's Tables 1-3 score it (Choi et al. 2018, §5.5).

The paper's CelebA studies (Tables 1-2) and its RaFD expression error and parameter count (Table 3: 53.2M, the
single-dataset G + D; 53,226,560 at 128 px and 8 expressions) come from models trained on one dataset each; the jointly
trained model (``datasets="both"``, the mask vector) is StarGAN-JNT, shown in §5.5 against StarGAN-SNG. On a task
with both datasets, ``datasets="each"`` therefore trains one unchanged ``StarGAN`` per dataset, side by side, one
iteration of each per step, the RaFD model for ``rafd_steps`` iterations (its own schedule decaying over its second
half; the paper: 100 + 100 RaFD epochs against CelebA's 10 + 10) and the CelebA model for ``steps``. The faces
protocol reads each dataset from its own model (``networks_for`` counts that model's G and D).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from harness.core.errors import HarnessError
from harness.core.task import Task
from reference_models.stargan import (
    StarGAN,
    StarGANConfig,
    build_stargan,
    label_dims,
    schedule_rule,
    validate_config,
)
from reference_models.training import schedule_text


def dataset_config(config: StarGANConfig, dataset: str) -> StarGANConfig:
    """The single-dataset config of ``dataset``'s model: ``rafd_steps`` (second-half decay) for RaFD when set."""
    single = dataclasses.replace(config, datasets=dataset)
    if dataset == "rafd" and config.rafd_steps not in (-1, config.steps):
        single = dataclasses.replace(single, steps=config.rafd_steps, decay_steps=-1)
    return single


class StarGANPerDataset:
    """One single-dataset ``StarGAN`` per dataset; satisfies ``ReferenceModel`` and the faces-model ``translate``."""

    def __init__(self, config: StarGANConfig, models: dict[str, StarGAN]) -> None:
        """Args: the shared config and dataset -> its model (built with ``dataset_config``)."""
        self.config, self.models = config, models
        self.budgets = {dataset: model.config.steps for dataset, model in models.items()}

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One iteration of every model still within its budget, each on its dataset's ``"<ds>/..."`` keys."""
        losses: dict[str, float] = {}
        for dataset, model in self.models.items():
            if model.step < self.budgets[dataset]:
                losses |= model.train_step({k: v for k, v in batch.items() if k.startswith(f"{dataset}/")})
        return losses

    @torch.no_grad()
    def translate(self, images: torch.Tensor, *, dataset: str, source: torch.Tensor, target: torch.Tensor
                  ) -> torch.Tensor:
        """``dataset``'s model: G(x, c) for float (N, 3, H, W) in [0, 1] and target labels (N, C); returns [0, 1]."""
        if dataset not in self.models:
            raise HarnessError(f"stargan was trained on {', '.join(self.models)}, not {dataset!r}")
        return self.models[dataset].translate(images, dataset=dataset, source=source, target=target)

    def directions(self) -> tuple[str, ...]:
        """The datasets, each with its own model."""
        return tuple(self.models)

    def can_translate(self, *, dataset: str, source: torch.Tensor, target: torch.Tensor) -> bool:
        """Each dataset's G reaches every target from any input of that dataset."""
        return dataset in self.models

    def provenance(self) -> dict[str, str]:
        """``model_train``: one model per dataset, each with its own batch and schedule."""
        parts = [f"{d} model: {schedule_text(m.config.steps, m.config.decay_steps)}" for d, m in self.models.items()]
        rule, first = schedule_rule(self.config), next(iter(self.models.values()))
        return {"model_train": f"one model per dataset (StarGAN-SNG), each on its own data only, batch "
                               f"{self.config.batch_size}, n_critic {self.config.n_critic}, {', '.join(parts)} "
                               f"({rule})", "model_architecture": first.provenance()["model_architecture"]}

    def networks(self) -> dict[str, nn.Module]:
        """``"<dataset>/G"`` and ``"<dataset>/D"`` of every model."""
        return {f"{d}/{k}": v for d, m in self.models.items() for k, v in m.networks().items()}

    def networks_for(self, dataset: str) -> dict[str, nn.Module]:
        """``dataset``'s own G and D (StarGAN Table 3 counts one model: G + D)."""
        return self.models[dataset].networks() if dataset in self.models else {}

    def state_dict(self) -> dict[str, Any]:
        """Dataset -> that model's state (networks, optimisers, iteration count)."""
        return {dataset: model.state_dict() for dataset, model in self.models.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores ``state_dict()`` output."""
        if set(state) != set(self.models):
            raise HarnessError(f"stargan checkpoint holds datasets {sorted(state)}, expected {sorted(self.models)}")
        for dataset, model in self.models.items():
            model.load_state_dict(state[dataset])


def build_stargan_models(config: StarGANConfig, task: Task, device: torch.device) -> StarGAN | StarGANPerDataset:
    """StarGAN for ``task``: one model per dataset (``datasets="each"`` with two datasets), else one model."""
    validate_config(config, task.image_size)
    datasets = tuple(label_dims(task, config))
    if config.datasets != "each" or len(datasets) == 1:
        return build_stargan(dataclasses.replace(config, datasets=datasets[0]) if config.datasets == "each"
                             else config, task, device)
    return StarGANPerDataset(config, {d: build_stargan(dataset_config(config, d), task, device) for d in datasets})
