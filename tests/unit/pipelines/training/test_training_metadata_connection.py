"""Where the training pipeline keeps ML Metadata: SQLite by default, mysql:// without a password, never PostgreSQL."""
import pytest

from dermflow.config import load_config
from dermflow.pipelines.training.training_pipeline import metadata_connection_config, run_training


def test_sqlite_by_default(tmp_path):
    config = metadata_connection_config(load_config(overrides=[f"paths.work_dir={tmp_path}"]))
    assert config.WhichOneof("config") == "sqlite"
    assert config.sqlite.filename_uri == str(tmp_path / "metadata.sqlite")


def test_mysql_is_compiled_without_a_password():
    cfg = load_config(overrides=["paths.metadata_connection=mysql://mlmd@127.0.0.1:13306/mlmd"])
    config = metadata_connection_config(cfg)
    assert (config.mysql.host, config.mysql.port, config.mysql.database, config.mysql.user) == (
        "127.0.0.1", 13306, "mlmd", "mlmd")
    assert config.mysql.password == ""


def test_postgresql_is_refused_with_the_reason():
    cfg = load_config(overrides=["paths.metadata_connection=postgresql://mlmd@db:5432/mlmd"])
    with pytest.raises(ValueError, match="backslash"):
        metadata_connection_config(cfg)


def test_the_local_runner_refuses_a_mysql_store_whose_connection_it_would_log():
    cfg = load_config(overrides=["paths.metadata_connection=mysql://mlmd@127.0.0.1:13306/mlmd"])
    with pytest.raises(ValueError, match="Airflow DAGs"):
        run_training(cfg)
