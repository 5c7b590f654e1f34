import pytest

from dermflow.secret_source import MissingPasswordError, read_secret


def test_the_variable_wins_then_the_file_then_nothing(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.env"
    secrets.write_text("# generated\nOTHER=x\nREVIEW_DB_PASSWORD=from=file\n")
    monkeypatch.delenv("TEST_REVIEW_PW", raising=False)
    assert read_secret("TEST_REVIEW_PW", secrets, "REVIEW_DB_PASSWORD", "review.password_file") == "from=file"
    assert read_secret("TEST_REVIEW_PW", secrets, "ABSENT", "review.password_file") is None
    assert read_secret("TEST_REVIEW_PW", None, "REVIEW_DB_PASSWORD", "review.password_file") is None
    monkeypatch.setenv("TEST_REVIEW_PW", "from-env")
    assert read_secret("TEST_REVIEW_PW", secrets, "REVIEW_DB_PASSWORD", "review.password_file") == "from-env"


def test_a_missing_file_names_its_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_REVIEW_PW", raising=False)
    with pytest.raises(MissingPasswordError, match="review.password_file .*absent.env does not exist"):
        read_secret("TEST_REVIEW_PW", tmp_path / "absent.env", "REVIEW_DB_PASSWORD", "review.password_file")
