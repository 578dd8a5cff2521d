"""Plugin models: loading (file, module:attribute, entry points), their config sections, and every refusal."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import textwrap

import pandas as pd
import pytest

from harness.core.errors import HarnessError
from harness.models import MODELS
from harness.plugin_checks import check_spec
from harness.plugins import config_for_worker, discover, load_plugins, loaded, normalise, unload_plugins
from harness.run import main
from harness.run_config import RunConfig, config_class, model_config, resolve_config
from harness.sections import SectionSpec

pytestmark = pytest.mark.usefixtures("no_plugins")


def spec():
    return MODELS.get("pix2pix_lsgan")


def test_a_file_plugin_registers_its_model_and_section(example_plugin, example_path):
    assert example_plugin == str(example_path) and "pix2pix_lsgan" in MODELS
    assert spec().setting == "paired" and spec().protocols["scenes"] == "fcn_scenes"
    config = resolve_config("smoke", {"plugins": (example_plugin,)})
    assert isinstance(config, RunConfig) and config.plugins == (example_plugin,)
    mine, pix2pix = config.pix2pix_lsgan, config.pix2pix
    for key in ("steps", "batch_size", "lr", "ngf", "ndf", "num_downs", "norm", "directions", "jitter"):
        assert getattr(mine, key) == getattr(pix2pix, key), key  # smoke's pix2pix values, followed
    assert (mine.steps, mine.ngf, mine.num_downs) == (500, 16, 5)
    loaded_again = load_plugins([str(example_path)])  # loading twice is a no-op
    assert loaded_again == (example_plugin,) and list(loaded()) == [example_plugin]
    unload_plugins()
    assert "pix2pix_lsgan" not in MODELS and config_class() is RunConfig


def test_set_and_checks_work_on_a_plugin_section_like_a_built_in_one(example_plugin):
    base = {"plugins": (example_plugin,)}
    config = resolve_config("smoke", {**base, "pix2pix_lsgan.lambda_l1": "50", "pix2pix.steps": "40"})
    assert config.pix2pix_lsgan.lambda_l1 == 50.0 and config.pix2pix_lsgan.steps == 40  # steps followed --set
    assert model_config(config, "pix2pix_lsgan", "scenes").steps == 40
    with pytest.raises(HarnessError, match=r"unknown key 'pix2pix_lsgan.nope'"):
        resolve_config("smoke", {**base, "pix2pix_lsgan.nope": "1"})
    with pytest.raises(HarnessError, match=r"pix2pix_lsgan.lr=-1.0 is out of range"):  # the plugin's own Annotated
        resolve_config("smoke", {**base, "pix2pix_lsgan.lr": "-1"})
    with pytest.raises(HarnessError, match=r"pix2pix_lsgan.norm='layer' is not one of"):  # its Literal
        resolve_config("smoke", {**base, "pix2pix_lsgan.norm": "layer"})
    with pytest.raises(HarnessError, match="pix2pix_lsgan.num_downs=4 is out of range"):
        resolve_config("smoke", {**base, "pix2pix_lsgan.num_downs": "4"})
    with pytest.raises(HarnessError, match="is not <model section>@<task>"):
        resolve_config("smoke", {**base, "task_overrides": "pix2pix_lsgan.steps=3"})
    over = resolve_config("smoke", {**base, "task_overrides": "pix2pix@scenes.steps=7"})  # followed per task too
    assert model_config(over, "pix2pix_lsgan", "scenes").steps == 7 == model_config(over, "pix2pix", "scenes").steps


def test_the_config_round_trips_through_a_worker_and_config_json(example_plugin):
    from harness.config import config_to_dict

    config = resolve_config("smoke", {"plugins": (example_plugin,), "pix2pix_lsgan.lambda_l1": "10"})
    data = json.loads(json.dumps(config_to_dict(config)))
    unload_plugins()  # a fresh worker process: the plugin comes from the config's own record
    rebuilt = config_for_worker(data)
    assert isinstance(rebuilt, RunConfig) and type(rebuilt) is config_class()
    assert config_to_dict(rebuilt) == config_to_dict(config) and rebuilt.pix2pix_lsgan.lambda_l1 == 10.0


def test_module_attribute_and_entry_point_sources(example_path, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(example_path.parent))
    monkeypatch.delitem(sys.modules, "pix2pix_lsgan", raising=False)
    assert normalise(" pix2pix_lsgan:HARNESS_MODELS ") == "pix2pix_lsgan:HARNESS_MODELS"
    with pytest.raises(HarnessError, match="expected path/to/file.py"):
        normalise("not a module")
    dist = tmp_path / "lab_models-0.1.dist-info"  # an installed distribution declaring the entry point
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: lab-models\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[gan_harness.models]\nlsgan = pix2pix_lsgan:HARNESS_MODELS\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert discover() == ["pix2pix_lsgan:HARNESS_MODELS"]
    assert load_plugins([], entry_points=True) == ("pix2pix_lsgan:HARNESS_MODELS",)
    assert "pix2pix_lsgan" in MODELS and MODELS.get("pix2pix_lsgan").variant == "L1+LSGAN"


def test_list_shows_plugin_models_and_followed_keys(example_path, capsys):
    assert main(["list", "models", "--plugin", str(example_path)]) == 0
    assert "pix2pix_lsgan            paired" in capsys.readouterr().out
    assert main(["list", "config", "--plugin", str(example_path)]) == 0
    out = capsys.readouterr().out
    assert "pix2pix_lsgan.steps = 500  # follows pix2pix.steps unless set" in out
    assert "pix2pix_lsgan.lambda_l1 = 100.0  # follows pix2pix.lambda_l1" in out


def _bad_plugin(tmp_path, body: str):
    path = tmp_path / "bad_plugin.py"
    path.write_text(textwrap.dedent(body))
    return path


BROKEN_CLASS = """
    import dataclasses
    from examples.pix2pix_lsgan import HARNESS_MODELS

    class Half:
        def train_step(self, batch): return {}
        def translate(self, images, direction="AtoB"): return images
        def directions(self): return ("AtoB",)
        def networks(self): return {}
        def state_dict(self): return {}
        def load_state_dict(self, state): pass

    HARNESS_MODELS = (dataclasses.replace(HARNESS_MODELS[0], name="half", config_section="half", model_class=Half),)
"""
RENAMED = """
    import dataclasses
    from examples.pix2pix_lsgan import HARNESS_MODELS
    HARNESS_MODELS = (dataclasses.replace(HARNESS_MODELS[0], {changes}),)
"""


@pytest.mark.parametrize(("body", "message"), [
    ("import numpy\nx = 1 / 0\n", r"cannot import it \(line 2: ZeroDivisionError"),
    ("def broken(:\n", r"cannot import it \(line 1: SyntaxError"),
    ("import not_a_module_anywhere\n", "ModuleNotFoundError"),
    ("X = 1\n", "defines no HARNESS_MODELS"),
    (BROKEN_CLASS, r"Half \(model half\) lacks provenance of the model contract"),
    (RENAMED.format(changes='name="pix2pix"'), "model name 'pix2pix' clashes with the built-in model"),
    (RENAMED.format(changes='config_section="eval"'), "config section 'eval' clashes with the built-in section"),
    (RENAMED.format(changes='setting="semi"'), "declares setting 'semi', which no task has"),
    (RENAMED.format(changes='protocols={"scenes": "fcn"}'), "protocol 'fcn', which is not registered"),
    (RENAMED.format(changes='protocols={"streets": "fcn_scenes"}'), "task 'streets', which is not registered"),
])
def test_a_bad_plugin_is_one_error_and_writes_nothing(tmp_path, capsys, body, message):
    out = tmp_path / "run"
    code = main(["suite", "--plugin", str(_bad_plugin(tmp_path, body)), "--models", "pix2pix", "--tasks", "scenes",
                 "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists(), err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "bad_plugin.py" in errors[0] and re.search(message, errors[0]), err
    assert all(m.section is None for _, m in MODELS.items())  # nothing of it was registered


def test_spec_checks_name_the_problem(example_plugin):
    good = dataclasses.replace(spec(), name="other", config_section="other")  # the plugin stays loaded
    check_spec(good, "plugin test", {})
    cases = [
        (dataclasses.replace(good, name="Bad__Name"), "is not lower-case letters"),
        (dataclasses.replace(good, section=None), "has no section"),
        (dataclasses.replace(good, section=SectionSpec(default={"steps": 1})), "expected an instance of a frozen"),
        (dataclasses.replace(good, section=dataclasses.replace(good.section, follows="eval")),
         "follows 'eval', which is not a built-in model section"),
        (dataclasses.replace(good, section=dataclasses.replace(good.section, follows="cyclegan",
                                                               follow_keys=("num_downs",))),
         "follow key 'num_downs' is not a field of both"),
        (dataclasses.replace(good, section=dataclasses.replace(good.section, profiles={"smoke": {"lr": 0.0}})),
         "other.lr=0.0 is out of range"),
        (dataclasses.replace(good, section=dataclasses.replace(good.section, profiles={"tiny": {}})),
         "has values for profile 'tiny'"),
        (dataclasses.replace(good, config_overrides={"gan_mode": "hinge"}), "unknown key 'gan_mode'"),
        (dataclasses.replace(good, model_class=None), "has no model_class"),
        (dataclasses.replace(good, compared_with=("nobody",)), "compared with unknown model"),
    ]
    for bad, message in cases:
        with pytest.raises(HarnessError, match=message):
            check_spec(bad, "plugin test", {})


def test_a_paired_plugin_on_an_unpaired_task_and_a_changed_budget_are_refused_before_writing(
        example_path, tmp_path, capsys, scene_args):
    out = tmp_path / "run"
    args = ["suite", "--plugin", str(example_path), "--models", "pix2pix_lsgan", "--out", str(out), "--no-progress"]
    assert main([*args, "--tasks", "scenes", *scene_args("pix2pix_lsgan.steps=9")]) == 2
    assert "pix2pix_lsgan.steps=9 but pix2pix.steps=4 there" in capsys.readouterr().err and not out.exists()
    on_digits = dataclasses.replace(MODELS.remove("pix2pix_lsgan"), protocols={"digits": "translation"})
    MODELS.add("pix2pix_lsgan", on_digits)  # the same model declared for the unpaired digits task
    assert main([*args, "--tasks", "digits", *scene_args()]) == 2
    assert "trains on pairs (setting paired), but task digits has none" in capsys.readouterr().err
    assert not out.exists()


def test_resume_and_evaluate_load_the_run_s_plugins(example_path, tmp_path, capsys, scene_args, cache):
    out = tmp_path / "run"
    argv = ["--plugin", str(example_path), "--models", "pix2pix_lsgan", "--tasks", "scenes", "--out", str(out),
            "--no-progress", "--workers", "1", *scene_args("study.simulate=false")]
    assert main(["train", *argv]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["plugins"][str(example_path)]["sha256"] and manifest["tasks"]["scenes"]["sha256"]
    saved = json.loads((out / "config.json").read_text())
    del saved["references"]  # as a run made before the option existed: it still resumes
    (out / "config.json").write_text(json.dumps(saved))
    unload_plugins()  # as a new process: the run's config.json names the plugin
    assert main(["evaluate", "--run", str(out)]) == 0
    assert "pix2pix_lsgan" in MODELS
    rows = (out / "metrics.csv").read_text()
    assert "pix2pix_lsgan,scenes,fcn_labels2photo_pixel_acc" in rows and "model_loss=least squares" in rows
    assert main(["suite", "--out", str(out), "--resume", "--plugin", str(tmp_path / "other.py"), "--no-progress"]) == 2
    assert "was made without it" in capsys.readouterr().err
    unload_plugins()
    assert main(["study", "simulate", "--run", str(out)]) == 0  # the study rebuilds the plugin's trained model
    simulated = pd.read_csv(out / "metrics.csv", keep_default_na=False)
    assert ((simulated["model"] == "pix2pix_lsgan") & simulated["protocol"].str.contains("simulated=true")).any()
