import pytest

from workflows import IPLEDGE_2021, IPLEDGE_2026


@pytest.fixture
def program():
    return IPLEDGE_2026


@pytest.fixture
def program_2021():
    return IPLEDGE_2021
