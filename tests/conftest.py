"""Fixtures shared by several test modules."""

import pytest

from s3_support import LocalS3, start_moto, stop_moto


@pytest.fixture(scope="session")
def s3(tmp_path_factory) -> LocalS3:
    """A local S3 (moto's server on 127.0.0.1, a free port) for the whole session; each test makes
    its own bucket with `s3.bucket()`."""
    server = start_moto(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    stop_moto(server)


@pytest.fixture
def s3_env(s3, monkeypatch):
    """The local S3, with its credentials in this process's environment (AWS_*), as a user has them."""
    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    return s3
