"""CelebA and RaFD loaders on fixtures in the published formats; bad input is one clear error."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from PIL import Image

from harness.core.errors import HarnessError
from harness.data.real_faces import RealFacesConfig, build_celeba, build_celeba_rafd, build_rafd, parse_rafd_name


@pytest.fixture
def celeba(celeba_dir):
    return RealFacesConfig(celeba_root=str(celeba_dir), image_size=32, celeba_test_size=5)


@pytest.fixture
def rafd(rafd_dir):
    return RealFacesConfig(rafd_root=str(rafd_dir), image_size=32, rafd_crop=256)


def test_celeba_reads_the_official_split_and_selected_attributes(celeba) -> None:
    task = build_celeba(celeba)
    train, test = task.data("train", "celeba"), task.data("test", "celeba")
    assert len(test) == 4 and len(train) == 8  # lines with 1-based index < 5 are test: the code's off-by-one
    lines = [f"{i + 1:06d}.jpg" for i in range(12)]
    random.Random(1234).shuffle(lines)  # data_loader.CelebA: random.seed(1234); random.shuffle(lines)
    first = int(lines[0][:6]) - 1
    assert test.labels["attributes"][0].tolist() == [float(first % 3 == h) for h in range(3)] + [
        float(first % 2 == 1), float(first % 4 < 2)]
    assert test.labels["identity"][0].item() == 1 + first % 4
    assert train.images.shape == (8, 3, 32, 32) and task.meta["attribute_names"][3] == "Male"


def test_celeba_centre_crops_178_before_resizing(tmp_path, celeba_writer) -> None:
    celeba_writer(tmp_path / "c", count=4)
    image = Image.new("RGB", (178, 218), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 178, 20))  # a blue band above the 178x178 centre crop (rows 20..197)
    image.save(tmp_path / "c" / "img_align_celeba" / "000001.jpg", quality=100)
    task = build_celeba(RealFacesConfig(celeba_root=str(tmp_path / "c"), image_size=16, celeba_test_size=3))
    images = torch.cat([task.data(split, "celeba").images for split in ("train", "test")])
    blue = images[:, 2].float().mean(dim=(1, 2))
    assert float(blue.min()) < 30  # the red image's crop holds no blue band; the noise images average ~128


def test_rafd_parses_names_and_splits_by_image(rafd) -> None:
    task = build_rafd(rafd)
    train, test = task.data("train", "rafd"), task.data("test", "rafd")
    assert len(train) + len(test) == 2 * 8 * 3 and len(test) == 8  # 10 % of 6 per expression, at least one
    assert set(test.labels["identity"].tolist()) <= {1, 2} and sorted(set(test.labels["expression"].tolist())) == list(
        range(8))
    assert parse_rafd_name(Path("Rafd090_01_Caucasian_female_angry_frontal.jpg")) == (1, 0)


def test_joint_task_numbers_rafd_people_after_celeba(celeba, rafd) -> None:
    task = build_celeba_rafd(replace(celeba, rafd_root=rafd.rafd_root))
    assert task.domains == ("celeba", "rafd")
    assert int(task.data("train", "rafd").labels["identity"].min()) > int(
        task.data("train", "celeba").labels["identity"].max())


def test_attribute_not_in_the_file(celeba) -> None:
    with pytest.raises(HarnessError, match="Gray_Hair.*not in"):
        build_celeba(replace(celeba, selected_attrs=("Gray_Hair", "Male")))


def test_partition_file_disagreeing_with_images(celeba) -> None:
    path = Path(celeba.celeba_root) / "list_eval_partition.txt"
    path.write_text(path.read_text() + "999999.jpg 2\n")
    with pytest.raises(HarnessError, match="partition file.*999999.jpg"):
        build_celeba(celeba)


def test_rafd_name_that_does_not_parse(rafd) -> None:
    bad = Path(rafd.rafd_root) / "Rafd090_01_Caucasian_female_grumpy_frontal.jpg"
    Image.new("RGB", (256, 256)).save(bad)
    with pytest.raises(HarnessError, match="grumpy.*RaFD convention"):
        build_rafd(rafd)


def test_mixed_sizes(rafd) -> None:
    odd = Path(rafd.rafd_root) / "Rafd090_09_Caucasian_male_happy_frontal.jpg"
    Image.new("RGB", (300, 300)).save(odd)
    with pytest.raises(HarnessError, match="mixed sizes"):
        build_rafd(rafd)


def _break_attribute(celeba_dir, rafd_dir):
    return ["--tasks", "celeba", "--set", f"faces_real.celeba_root={celeba_dir}",
            "--set", "faces_real.selected_attrs=Black_Hair,Gray_Hair"], "Gray_Hair"


def _break_partition(celeba_dir, rafd_dir):
    (celeba_dir / "list_eval_partition.txt").write_text("000001.jpg 0\n")
    return ["--tasks", "celeba", "--set", f"faces_real.celeba_root={celeba_dir}"], "partition file"


def _break_rafd_name(celeba_dir, rafd_dir):
    Image.new("RGB", (256, 256)).save(rafd_dir / "face_07.jpg")
    return ["--tasks", "rafd", "--set", f"faces_real.rafd_root={rafd_dir}"], "face_07.jpg"


def _break_sizes(celeba_dir, rafd_dir):
    Image.new("RGB", (178, 200)).save(celeba_dir / "img_align_celeba" / "000003.jpg")
    return ["--tasks", "celeba", "--set", f"faces_real.celeba_root={celeba_dir}",
            "--set", "faces_real.celeba_test_size=5"], "mixed sizes"


@pytest.mark.parametrize("breaker", [_break_attribute, _break_partition, _break_rafd_name, _break_sizes])
def test_bad_face_data_exits_2_and_writes_nothing(breaker, celeba_dir, rafd_dir, tmp_path, capsys, cache) -> None:
    from harness.run import main

    argv, expected = breaker(celeba_dir, rafd_dir)
    out = tmp_path / "run"
    code = main(["suite", "--models", "stargan", "--out", str(out), "--no-progress", *argv])
    err = capsys.readouterr().err
    assert code == 2 and expected in err, err
    assert not out.exists()


# Issue 24: every damaged CelebA list file is one clear error, exit 2, nothing written (these were internal errors).
def _identity_not_a_number(celeba_dir):
    path = celeba_dir / "identity_CelebA.txt"
    path.write_text(path.read_text().replace("000002.jpg 2", "000002.jpg two"))
    return "identity file", "entry 2: expected '<file> <integer person id>', got '000002.jpg two'"


def _identity_without_id(celeba_dir):
    path = celeba_dir / "identity_CelebA.txt"
    path.write_text(path.read_text().replace("000003.jpg 3", "000003.jpg"))
    return "identity file", "entry 3: expected '<file> <integer person id>', got '000003.jpg'"


def _attributes_in_latin_1(celeba_dir):
    path = celeba_dir / "list_attr_celeba.txt"
    path.write_bytes(path.read_bytes().replace(b"5_o_Clock_Shadow", "5_o_Clock_Shadow_\u00e9t\u00e9".encode("latin-1")))
    return "attribute file", "line 2: byte 0xe9 is not UTF-8 text"


def _attribute_value_not_pm1(celeba_dir):
    path = celeba_dir / "list_attr_celeba.txt"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].rsplit(" ", 1)[0] + "  0"
    path.write_text("\n".join(lines) + "\n")
    return "list_attr_celeba.txt", "values other than 1 and -1 (0)"


@pytest.mark.parametrize("damage", [_identity_not_a_number, _identity_without_id, _attributes_in_latin_1,
                                    _attribute_value_not_pm1])
def test_a_damaged_celeba_list_file_exits_2_and_writes_nothing(damage, celeba_dir, tmp_path, capsys, cache) -> None:
    from harness.run import main

    where, expected = damage(celeba_dir)
    out = tmp_path / "run"
    code = main(["suite", "--models", "stargan", "--tasks", "celeba", "--out", str(out), "--no-progress",
                 "--set", f"faces_real.celeba_root={celeba_dir}"])
    err = capsys.readouterr().err
    assert code == 2 and where in err and expected in err and err.count("\n") == 1, err
    assert not out.exists()
