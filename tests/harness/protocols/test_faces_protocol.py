"""The faces protocol on a tiny embedded task: reference rows, judge accuracy, and an identity "translator"."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from harness.protocols.base import EvalContext
from harness.protocols.faces import evaluate_faces, reference_faces
from harness.run_config import resolve_config
from harness.tasks import build_task
from metrics.judges import resolve


class Unchanged:
    """A faces "model" that returns its inputs: scores a translation that changes nothing."""

    def translate(self, images: torch.Tensor, *, dataset: str, source: torch.Tensor, target: torch.Tensor
                  ) -> torch.Tensor:
        return images.clone()

    def directions(self) -> tuple[str, ...]:
        return ("celeba", "rafd")

    def provenance(self) -> dict[str, str]:
        return {"model": "unchanged"}

    def networks(self) -> dict[str, nn.Module]:
        return {"G": nn.Linear(2, 3)}

    def networks_for(self, dataset: str) -> dict[str, nn.Module]:
        return self.networks()

    def can_translate(self, *, dataset: str, source: torch.Tensor, target: torch.Tensor) -> bool:
        return True


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """The smoke profile's faces task and its committed judges (training one would fail the test)."""
    config = resolve_config("smoke", {})
    evaluation = replace(config.eval, n_samples=60, kid_subsets=10, n_sample_images=4)
    with pytest.MonkeyPatch.context() as patch, torch.random.fork_rng():
        torch.set_num_threads(1)
        patch.setenv("HARNESS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        patch.setattr(resolve, "train_judge", lambda *a, **k: pytest.fail("a face judge was trained, not loaded"))
        task = build_task("faces", config)
        samples = tmp_path_factory.mktemp("samples")

        def ctx(model: str, setting: str, provenance: dict[str, str]) -> EvalContext:
            return EvalContext(model_name=model, task=task, seed=0, device=torch.device("cpu"), config=evaluation,
                               sample_dir=samples, setting=setting, variant="", progress=False,
                               model_provenance=provenance)

        reference = {r.metric: r for r in reference_faces(ctx("real_data", "reference", {}))}
        model = Unchanged()
        unchanged = {r.metric: r for r in evaluate_faces(model, ctx("unchanged", "unpaired", model.provenance()))}
        yield reference, unchanged, samples


def test_committed_judges_are_accurate_on_real_test_faces(rows) -> None:
    reference, _, _ = rows
    # Good enough to score translations; the committed smoke judges measured 15.6 % expression error, hair 0.98,
    # Male 0.995, Young 1.00, identity 0.777, domains 0.889, CelebA verification 0.60 at 5 % false accepts.
    assert reference["expression_error"].value < 20  # percent (96 test faces)
    assert reference["hair_accuracy"].value > 0.95
    assert reference["Male_accuracy"].value > 0.95 and reference["Young_accuracy"].value > 0.95
    assert reference["identity_accuracy"].value > 0.7
    assert reference["domains_accuracy"].value > 0.85
    assert reference["celeba_identity_verification"].value > 0.55
    assert reference["celeba_identity_false_accept"].value < 0.3
    assert reference["expression_error"].published_value == pytest.approx(0.45)
    assert "judge_source=pinned" in reference["expression_error"].protocol


def test_a_translation_that_changes_nothing(rows) -> None:
    reference, unchanged, _ = rows
    assert unchanged["celeba_identity_distance"].value == pytest.approx(0.0, abs=1e-6)
    assert unchanged["celeba_identity_verification"].value == 1.0
    assert unchanged["expression_error"].value > 70  # neutral faces stay neutral
    assert unchanged["HGA_transfer_accuracy"].value < 0.1
    assert unchanged["hair_transfer_accuracy"].value < 0.2
    assert unchanged["parameters"].value == 9 and unchanged["rafd_parameters"].value == 9
    assert unchanged["celeba_fid"].value > reference["celeba_fid"].value  # wrong domains are farther than real ones
    assert {"expression_error[happy]", "Male_transfer_accuracy[not_Male]", "rafd_fid[happy]", "celeba_kid"} <= set(
        unchanged)
    assert "judge_sha256" in unchanged["expression_error"].protocol and "model=unchanged" in unchanged[
        "expression_error"].protocol


def test_expression_error_has_its_floor_a_clustered_ci_and_the_every_face_variant(rows) -> None:
    reference, unchanged, _ = rows
    error, floor = unchanged["expression_error"], unchanged["expression_error_floor"]
    assert floor.higher_is_better is None and 0 <= floor.value < error.value
    assert floor.value < 3 * max(reference["expression_error"].value, 1.0)  # the judge on real faces: a few percent
    # 7 targets per neutral face: the interval is clustered by face and holds the pooled value.
    assert error.ci_low <= error.value <= error.ci_high and error.ci_high - error.ci_low > 0
    assert "clustered by input face" in error.protocol
    every = unchanged["all_faces_expression_error"]
    assert every.n > error.n and every.ci_low <= every.value <= every.ci_high
    # Unchanged outputs keep their own expression, which is never the target: every output is misread unless the
    # judge errs on the input itself, so the error sits near 100 %.
    assert every.value > 80 and "every test face" in every.protocol
    assert unchanged["all_faces_expression_error_floor"].higher_is_better is None
    assert "comparable_to_paper=no (the model does not say" in unchanged["parameters"].protocol


def test_sample_strips_for_every_target(rows) -> None:
    _, _, samples = rows
    folders = {p.name for p in Path(samples).iterdir()}
    assert {"celeba_Blond_Hair", "celeba_H+G+A", "celeba_not_Young", "rafd_happy"} <= folders
    assert (Path(samples) / "rafd_happy" / "_input.png").is_file()
    assert (Path(samples) / "rafd_happy" / "unchanged__s0.png").is_file()
