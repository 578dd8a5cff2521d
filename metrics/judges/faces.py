"""The face judges: expression classifier, attribute classifier, identity embedder and face features for FID/KID.

Provenance: StarGAN (Table 3) scores expression transfer with "a facial expression classifier" trained on RaFD
(90 % / 10 % split by image) and reports the error of real test images beside the methods' ("Real images"); its
architecture (recalled as ResNet-18, unconfirmed) and weights were never released. DIAT preserves identity with
VGG-Face. Here every judge is the same compact CNN (``FaceNet``) trained by the harness on the task's real training
faces (``metrics.judges.base``: one loop, key, pin and provenance for every judge; horizontal flips, Adam 2e-3), so
numbers are comparable between runs with the same judge weights (their sha256 is in every row), not with the
papers' numbers.

- ``expression``: 8-way softmax over RaFD's expressions, trained on the RaFD(-like) training split.
- ``attributes``: one softmax over the joint values of the CelebA attribute groups (hair colour x each binary
  attribute: 3 x 2 x 2 = 12 classes for StarGAN's five), trained on the CelebA(-like) training split; a group's
  prediction is the arg-max of its marginal. Images without exactly one selected hair colour are left out.
- ``identity``: softmax over the task's people, trained on the training images of both datasets (attributes and
  expressions vary within a person, so the embedding learns to ignore them); the embedding is the L2-normalised
  pooled feature. ``identity_loss`` is the same network trained with another seed: DIAT's VGG-Face stand-in, so the
  identity DIAT optimises is not the one that scores it.
- ``domains``: softmax over every CelebA attribute combination and every RaFD expression; its pooled features are
  the FID/KID feature space of the faces protocol (sensitive to hair, sex, age and expression alike).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn
from torch.nn import functional as F

from harness.core.errors import HarnessError
from harness.core.task import Task
from metrics.judges.base import JudgeData, JudgeSpec

WIDTH = 16  # channels of the first stage; stages WIDTH, 2W, 4W, 4W (about 0.15M parameters)
HAIR_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")  # StarGAN create_labels' hair group
MAX_COMBINATIONS = 256  # the attribute judge's joint softmax is meant for a handful of attributes


def _stage(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(8, cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(8, cout), nn.ReLU(inplace=True))


class FaceNet(nn.Module):
    """Four conv stages (max-pooled between), global average pooling, a linear head.

    Input float (N, 3, H, W) in [0, 1], any H, W >= 8; GroupNorm, so outputs do not depend on the batch.
    """

    def __init__(self, num_classes: int, width: int = WIDTH) -> None:
        super().__init__()
        widths = (width, 2 * width, 4 * width, 4 * width)
        self.stages = nn.ModuleList(_stage(cin, cout) for cin, cout in zip((3, *widths[:-1]), widths, strict=True))
        self.head = nn.Linear(widths[-1], num_classes)
        self.feature_dim = widths[-1]

    def feature_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Every stage's output (the perceptual features of DIAT's identity loss)."""
        x, maps = images * 2 - 1, []
        for i, stage in enumerate(self.stages):
            x = stage(x if i == 0 else F.max_pool2d(x, 2, ceil_mode=True))
            maps.append(x)
        return maps

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled features (N, feature_dim)."""
        return self.feature_maps(images)[-1].mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits (N, num_classes)."""
        return self.head(self.features(images))


def attribute_groups(names: tuple[str, ...]) -> list[tuple[int, ...]]:
    """Column groups: the hair colours together (if any), then one group per other attribute."""
    hair = tuple(i for i, n in enumerate(names) if n in HAIR_ATTRIBUTES)
    return ([hair] if hair else []) + [(i,) for i, n in enumerate(names) if n not in HAIR_ATTRIBUTES]


def group_sizes(groups: list[tuple[int, ...]]) -> list[int]:
    """Values per group: the number of hair colours, 2 for a binary attribute."""
    return [len(g) if len(g) > 1 else 2 for g in groups]


def encode_attributes(attributes: torch.Tensor, names: tuple[str, ...]) -> torch.Tensor:
    """Attribute rows (N, A) in {0, 1} -> joint class ids (N,); -1 where the hair group has not exactly one set."""
    groups = attribute_groups(names)
    sizes = group_sizes(groups)
    if torch.tensor(sizes).prod() > MAX_COMBINATIONS:
        raise HarnessError(f"attribute judge: {len(names)} attributes make more than {MAX_COMBINATIONS} joint classes; "
                           "select fewer attributes (faces_real.selected_attrs)")
    code = torch.zeros(attributes.shape[0], dtype=torch.long)
    valid = torch.ones(attributes.shape[0], dtype=torch.bool)
    for columns, size in zip(groups, sizes, strict=True):
        hot = attributes[:, list(columns)] > 0.5
        value = hot.float().argmax(1) if len(columns) > 1 else hot[:, 0].long()
        if len(columns) > 1:
            valid &= hot.sum(1) == 1
        code = code * size + value
    return torch.where(valid, code, torch.full_like(code, -1))


def decode_marginals(logits: torch.Tensor, names: tuple[str, ...]) -> list[torch.Tensor]:
    """Joint logits (N, prod sizes) -> per group the arg-max of its marginal probability, int64 (N,)."""
    sizes = group_sizes(attribute_groups(names))
    probs = logits.softmax(1).view(logits.shape[0], *sizes)
    out = []
    for axis in range(len(sizes)):
        other = tuple(d + 1 for d in range(len(sizes)) if d != axis)
        out.append(probs.sum(dim=other).argmax(1) if other else probs.argmax(1))
    return out


def expression_data(task: Task, split: str = "train") -> tuple[torch.Tensor, torch.Tensor, Mapping[str, int]]:
    """RaFD faces of ``split`` and their expressions."""
    data = task.data(split, "rafd")
    return data.images, data.labels["expression"], {"num_classes": len(task.meta["expression_names"])}


def attribute_data(task: Task, split: str = "train") -> tuple[torch.Tensor, torch.Tensor, Mapping[str, int]]:
    """CelebA faces of ``split`` with a valid joint attribute class."""
    data = task.data(split, "celeba")
    names = tuple(task.meta["attribute_names"])
    codes = encode_attributes(data.labels["attributes"], names)
    keep = torch.nonzero(codes >= 0).flatten()
    classes = int(torch.tensor(group_sizes(attribute_groups(names))).prod())
    return data.images[keep], codes[keep], {"num_classes": classes}


def identity_data(task: Task, split: str = "train") -> tuple[torch.Tensor, torch.Tensor, Mapping[str, int]]:
    """Faces of ``split`` of every dataset of the task and their people."""
    parts = [task.data(split, d) for d in task.domains]
    images = torch.cat([p.images for p in parts])
    people = torch.cat([p.labels["identity"] for p in parts])
    return images, people, {"num_classes": int(task.meta["n_identities"])}


def domain_data(task: Task, split: str = "train") -> tuple[torch.Tensor, torch.Tensor, Mapping[str, int]]:
    """Faces of ``split`` of every dataset; class = CelebA joint attribute class, or offset + RaFD expression."""
    images, targets, offset = [], [], 0
    if "celeba" in task.domains:
        celeba_images, codes, params = attribute_data(task, split)
        images.append(celeba_images)
        targets.append(codes)
        offset = int(params["num_classes"])
    if "rafd" in task.domains:
        rafd_images, expressions, params = expression_data(task, split)
        images.append(rafd_images)
        targets.append(expressions + offset)
        offset += int(params["num_classes"])
    return torch.cat(images), torch.cat(targets), {"num_classes": offset}


def decode_codes(codes: torch.Tensor, names: tuple[str, ...]) -> list[torch.Tensor]:
    """Joint class ids (N,) -> per group its value int64 (N,) (inverse of ``encode_attributes``)."""
    out = []
    for size in reversed(group_sizes(attribute_groups(names))):
        out.append(codes % size)
        codes = codes // size
    return out[::-1]


LR = 2e-3  # Adam learning rate of every face judge
RECIPE_KEYS = ("face_judge_steps", "face_judge_batch_size")  # EvalConfig fields with their steps and batch size


def _judge_data(source: Callable[[Task], tuple]) -> Callable[[Task], JudgeData]:
    def data(task: Task) -> JudgeData:
        images, targets, params = source(task)
        return JudgeData(images, targets, dict(params))

    return data


def _build(params: Mapping[str, int]) -> FaceNet:
    return FaceNet(int(params["num_classes"]))


def _features(model: nn.Module, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Float (N, 3, H, W) in [0, 1] -> pooled features (N, 4 * WIDTH)."""
    return {str(4 * WIDTH): model.features(images)}


def _spec(name: str, description: str, source: Callable[[Task], tuple], seed: int) -> JudgeSpec:
    return JudgeSpec(name=name, arch="facenet-v1", description=description, build=_build, data=_judge_data(source),
                     target="class", augment="hflip", lr=LR, seed=seed, features=_features,
                     feature_layers=(str(4 * WIDTH),), recipe_keys=RECIPE_KEYS)


FACE_EXPRESSION = _spec("face_expression", "harness expression classifier (RaFD-like training faces)",
                        expression_data, 1)
FACE_ATTRIBUTES = _spec("face_attributes", "harness attribute classifier (joint hair x sex x age softmax)",
                        attribute_data, 2)
FACE_IDENTITY = _spec("face_identity", "harness identity embedder (softmax over the task's people)", identity_data, 3)
FACE_IDENTITY_LOSS = _spec("face_identity_loss", "harness identity network for DIAT's loss (VGG-Face stand-in, own "
                           "seed)", identity_data, 4)
FACE_DOMAINS = _spec("face_domains", "harness face-domain classifier (FID/KID features)", domain_data, 5)
FACE_JUDGES = (FACE_EXPRESSION, FACE_ATTRIBUTES, FACE_IDENTITY, FACE_IDENTITY_LOSS, FACE_DOMAINS)
