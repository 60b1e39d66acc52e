"""One torch thread for every generative test: the test machine's cores are shared, and the
tiny models here gain nothing from a second intra-op thread (it only spins). The CLI helper is
the ``cli`` fixture of tests/conftest.py."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
