import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import torch

from harness.core.cache import cache_lock, load_or_generate, tensors_sha256


def test_tensors_sha256_changes_with_data():
    x = torch.zeros(2, 3, dtype=torch.uint8)
    assert tensors_sha256(x) == tensors_sha256(x.clone())
    assert tensors_sha256(x) != tensors_sha256(x + 1) != tensors_sha256(x.reshape(3, 2))


@dataclass(frozen=True)
class _Config:
    size: int = 3


def test_jobs_at_once_generate_a_missing_task_once(tmp_path, monkeypatch):
    """Three processes' worth of misses at once (threads: flock locks conflict between open files): one builds."""
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    built = []

    def generate():
        built.append(threading.get_ident())
        time.sleep(0.3)
        return {"train": {"x": torch.arange(3, dtype=torch.uint8)}}

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: load_or_generate("toy", _Config(), "v1", generate), range(3)))
    assert len(built) == 1
    assert {key for _, key in results} == {results[0][1]}
    assert all(torch.equal(data["train"]["x"], torch.arange(3, dtype=torch.uint8)) for data, _ in results)
    assert (tmp_path / "tasks" / f"toy-{results[0][1]}.pt.lock").exists()


def test_cache_lock_is_released_on_error(tmp_path):
    path = tmp_path / "sub" / "entry.pt"
    with pytest.raises(ValueError, match="boom"), cache_lock(path):
        raise ValueError("boom")
    acquired = threading.Event()

    def take():
        with cache_lock(path):
            acquired.set()

    worker = threading.Thread(target=take)
    worker.start()
    worker.join(timeout=5)
    assert acquired.is_set()


@pytest.mark.parametrize("damage", ["bytes", "old_format", "garbage", "truncated", "code"])
def test_a_task_entry_that_does_not_match_its_hash_is_regenerated(tmp_path, monkeypatch, caplog, damage,
                                                                   code_payload):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    calls = []

    def generate():
        calls.append(1)
        return {"train": {"x": torch.arange(6, dtype=torch.uint8)}}

    _, key = load_or_generate("toy", _Config(), "v1", generate)
    path = tmp_path / "tasks" / f"toy-{key}.pt"
    if damage == "bytes":  # a tensor changed on disk, its recorded hash not
        entry = torch.load(path, weights_only=True)
        entry["data"]["train"]["x"][0] = 9
        torch.save(entry, path)
    elif damage == "old_format":  # an entry without a recorded hash
        torch.save({"train": {"x": torch.arange(6, dtype=torch.uint8)}}, path)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "code":  # a pickle that would run code: weights_only refuses it, nothing runs
        torch.save({"sha256": "x", "data": code_payload[0]}, path)
    else:
        path.write_bytes(b"not a torch file")
    with caplog.at_level("WARNING"):
        data, _ = load_or_generate("toy", _Config(), "v1", generate)
    assert len(calls) == 2 and torch.equal(data["train"]["x"], torch.arange(6, dtype=torch.uint8))
    assert any("regenerating" in r.getMessage() for r in caplog.records)
    assert load_or_generate("toy", _Config(), "v1", generate)[0]["train"]["x"][0] == 0 and len(calls) == 2
    assert not code_payload[1].exists()
