import pytest
from ml_metadata.proto import metadata_store_pb2

from dermflow.config import PathsConfig
from dermflow.tfx_runtime.metadata_password import (
    PASSWORD_ENV, MissingMetadataPasswordError, metadata_password, with_password,
)


def _mysql() -> metadata_store_pb2.ConnectionConfig:
    config = metadata_store_pb2.ConnectionConfig()
    config.mysql.host, config.mysql.port, config.mysql.database, config.mysql.user = "127.0.0.1", 3306, "mlmd", "mlmd"
    return config


@pytest.fixture
def secrets_file(tmp_path):
    path = tmp_path / "secrets.env"
    path.write_text("# comment\nREDIS_PASSWORD=other\nMLMD_PASSWORD=from-the-file=with=equals\n")
    return path


def test_the_password_is_read_from_the_file_when_the_connection_opens(secrets_file, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    original = _mysql()
    filled = with_password(original, PathsConfig(metadata_password_file=secrets_file))
    assert filled.mysql.password == "from-the-file=with=equals"
    assert original.mysql.password == ""  # the pipeline's own config is left without it
    secrets_file.write_text("MLMD_PASSWORD=rotated\n")
    assert with_password(original, PathsConfig(metadata_password_file=secrets_file)).mysql.password == "rotated"


def test_the_environment_variable_wins(secrets_file, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "from-env")
    assert metadata_password(PathsConfig(metadata_password_file=secrets_file)) == "from-env"
    assert with_password(_mysql().mysql, PathsConfig()).password == "from-env"


def test_mysql_without_any_password_source_says_where_to_put_one(monkeypatch, tmp_path):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with pytest.raises(MissingMetadataPasswordError, match=PASSWORD_ENV):
        with_password(_mysql(), PathsConfig())
    with pytest.raises(MissingMetadataPasswordError, match="does not exist"):
        with_password(_mysql(), PathsConfig(metadata_password_file=tmp_path / "absent.env"))


def test_sqlite_is_left_unchanged(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "unused")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = "/x/metadata.sqlite"
    assert with_password(config, PathsConfig()) is config
