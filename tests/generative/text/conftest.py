"""One torch thread for the text-model tests: the test machine's cores are shared, and
small models gain nothing from a second thread (it only spins)."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
