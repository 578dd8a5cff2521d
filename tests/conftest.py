"""Fixtures shared by every test module."""

from pathlib import Path

import pytest
import torch

EXAMPLE_PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "pix2pix_lsgan.py"


def _single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def one_thread():
    """Runs one test with one torch intra-op thread: on 2 shared cores, 2-thread kernels spin under contention."""
    yield from _single_thread()


@pytest.fixture(scope="module")
def one_thread_module():
    """The same for a whole module (``pytestmark = pytest.mark.usefixtures("one_thread_module")``)."""
    yield from _single_thread()


class _OpensAFile:
    """Unpickled with code allowed (``torch.load(weights_only=False)``) it creates ``marker``: code in weights."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture
def code_payload(tmp_path):
    """``(payload, marker)``: save ``payload`` inside a weights file; loading it must never create ``marker``."""
    marker = tmp_path / "pwned"
    return _OpensAFile(marker), marker


@pytest.fixture(scope="session")
def example_path():
    """The example plugin's file (examples/pix2pix_lsgan.py)."""
    return EXAMPLE_PLUGIN


@pytest.fixture
def no_plugins():
    """Unloads every plugin model after the test: the model registry is process-global."""
    from harness.plugins import unload_plugins

    yield
    unload_plugins()


@pytest.fixture
def example_plugin(no_plugins):
    """Loads the example plugin (unloaded after the test); returns its recorded source."""
    from harness.plugins import load_plugins

    return load_plugins([str(EXAMPLE_PLUGIN)])[-1]
