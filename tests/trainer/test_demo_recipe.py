"""The shipped demo model's recipe: one command from phantoms to a checked, evaluated package."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainer.demo_recipe import QUALITY_BAR, DemoRecipe, quality_checks

pytestmark = pytest.mark.train


def test_the_quality_bar_is_checked_per_bone_and_metric() -> None:
    good = {"dice": 0.98, "hd95_mm": 1.0, "assd_mm": 0.3}
    checks = quality_checks({"femur": good, "tibia": {**good, "assd_mm": 0.6}})
    assert len(checks) == 6 and QUALITY_BAR["assd_mm"] == 0.5
    assert [name for name, ok in checks.items() if not ok] == ["tibia ASSD <= 0.5 mm"]


def test_the_gpu_recipe_runs_the_shipped_cpu_schedule_with_larger_batches() -> None:
    cpu, gpu = DemoRecipe.for_device("cpu"), DemoRecipe.for_device("cuda")
    assert (gpu.epochs, gpu.iterations) == (cpu.epochs, cpu.iterations)
    assert gpu.small.batch_size > cpu.small.batch_size == 8
    # the network the shipped model was trained with (resources/models/README.md)
    assert (cpu.small.base_features, cpu.small.max_features, cpu.small.spacing_mm, cpu.small.max_patch) == (
        8,
        128,
        1.0,
        192,
    )
    assert (
        DemoRecipe.for_device("cpu", epochs=3, folds=[0, 1]).trainer == f"nnUNetTrainerKneeSeg_3ep_{cpu.iterations}it"
    )


@pytest.mark.slow
def test_a_tiny_run_of_the_recipe_writes_a_package_with_readme_and_test_metrics(tmp_path: Path) -> None:
    for module in ("torch", "nnunetv2", "onnx"):
        pytest.importorskip(module)
    from kneeseg_app.core.model.package import load_model_package
    from trainer.demo_recipe import run_demo_recipe
    from trainer.nnunet.pipeline import SmallNetwork

    recipe = DemoRecipe(
        train_cases=6,
        test_cases=2,
        wide_cases=0,
        hard_cases=0,
        shape_zyx=(32, 96, 96),
        epochs=1,
        iterations=2,
        small=SmallNetwork(8, 32, None, batch_size=4, max_patch=64),
        name="tiny-demo",
        demo_case=False,
    )
    outcome = run_demo_recipe(recipe, tmp_path / "model", tmp_path / "work", threads=2)
    package = load_model_package(outcome.package)
    assert package.manifest.default and package.manifest.training.synthetic and not package.manifest.clinical_use
    assert package.manifest.validation.cases == 2 and set(package.manifest.validation.hd95_mm) == {"femur", "tibia"}
    readme = (outcome.package / "README.md").read_text(encoding="utf-8")
    assert "not for clinical use" in readme and "Table 1" in readme and "Quality bar" in readme
    assert set(outcome.quality) == set(quality_checks(outcome.metrics))
    manifest = json.loads((outcome.package / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["recipe"]["epochs"] == 1
    assert package.manifest.version == recipe.version, "the recipe's version goes into the package"
    # the app's speed defaults are in the package, and the recorded metrics were measured with them
    assert package.manifest.inference.roi == "bones" and package.manifest.inference.skip_empty_slices
    assert package.manifest.postprocessing.min_fraction == 0.25
    assert package.manifest.postprocessing.rule == "anatomy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "work"]


def test_the_recipe_trains_on_classic_and_wide_phantoms_with_negatives_and_tests_on_unseen_seeds() -> None:
    from trainer.demo_recipe import phantom_sets
    from trainer.synth import plan_cases

    sets = phantom_sets(DemoRecipe())
    assert sets["wide"].variation == "wide" and sets["train"].variation == "classic"
    wide = plan_cases(sets["wide"])
    negatives = [c for c in wide if c.kind != "knee"]
    assert 0.1 * len(wide) <= len(negatives) <= 0.3 * len(wide)
    # no leg without a knee: long knee scans label the same shafts, heads and ankles as bone
    assert {c.kind for c in negatives} <= {"torso", "arm", "table", "air", "head", "chest"}
    assert len({c.kind for c in negatives}) >= 4
    assert 0.15 * len(wide) <= sum(c.synthseg for c in wide) <= 0.45 * len(wide)
    training_seeds = {c.seed for name in ("train", "wide") for c in plan_cases(sets[name])}
    assert not training_seeds & {c.seed for c in plan_cases(sets["test"])}
    assert "wide" not in phantom_sets(DemoRecipe(wide_cases=0))
    assert "hard" not in sets, "the shipped recipe draws no hard cases (measured worse on unseen data)"
    hard = plan_cases(phantom_sets(DemoRecipe(hard_cases=8))["hard"])
    assert hard and all(c.hard and c.kind == "knee" for c in hard), "the hard set: knees pinned to the hard themes"
    assert not {c.seed for c in hard} & (training_seeds | {c.seed for c in plan_cases(sets["test"])})
