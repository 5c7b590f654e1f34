from pathlib import Path

import pytest

from dermflow.cluster.airflow_services import ServicePorts, airflow_env, airflow_processes
from dermflow.cluster.cluster_layout import ClusterLayout
from dermflow.cluster.cluster_manager import REPO_ROOT, cluster_config
from dermflow.cluster.cluster_secrets import ensure_secrets
from dermflow.config import ConfigError, load_config

PORTS = ServicePorts(postgres=15432, redis=16379, api=18080, mariadb=13306)


@pytest.fixture
def secrets(tmp_path):
    return ensure_secrets(tmp_path / "secrets.env")


def test_mlmd_and_the_pipeline_root_are_on_one_absolute_shared_path():
    effective = cluster_config(load_config())
    assert effective.paths.metadata_connection is None
    assert effective.paths.work_dir == REPO_ROOT / "var/work"
    assert effective.paths.resolved_metadata_path() == REPO_ROOT / "var/work/metadata.sqlite"
    assert effective.paths.resolved_pipeline_root() == REPO_ROOT / "var/work/tfx"
    assert effective.airflow.score_output.is_absolute()


def test_an_explicit_metadata_connection_is_kept():
    cfg = load_config(overrides=["paths.metadata_connection=mysql://u@db:3306/mlmd"])
    effective = cluster_config(cfg, mariadb_port=13306)
    assert effective.paths.metadata_connection == "mysql://u@db:3306/mlmd"


def test_with_the_clusters_mariadb_mlmd_is_mysql_without_a_password_read_from_the_secrets_file(tmp_path, secrets):
    cfg = load_config(overrides=[f"cluster.state_dir={tmp_path}"])
    effective = cluster_config(cfg, mariadb_port=13306)
    assert effective.paths.metadata_connection == "mysql://mlmd@127.0.0.1:13306/mlmd"
    assert effective.paths.metadata_password_file == ClusterLayout.at(tmp_path).secrets_file
    assert effective.paths.metadata_path is None
    assert secrets["MLMD_PASSWORD"] not in effective.to_json()


def test_airflow_env_is_celery_on_loopback_with_the_generated_secrets(tmp_path, secrets):
    env = airflow_env(load_config(), ClusterLayout.at(tmp_path), PORTS, secrets, Path("/repo"))
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == secrets["JWT_SECRET"]
    assert secrets["AIRFLOW_DB_PASSWORD"] in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://:{secrets['REDIS_PASSWORD']}@127.0.0.1:16379/0"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/repo/dags"


def test_workers_serve_the_configured_queues_without_log_servers():
    cfg = load_config(overrides=["cluster.default_workers=2", "airflow.gpu_queue=cuda"])
    workers = {p.name: p for p in airflow_processes(cfg) if p.worker}
    assert {name: p.queue for name, p in workers.items()} == {"default-1": "default", "default-2": "default", "gpu-1": "cuda"}
    assert all("--skip-serve-logs" in p.args for p in workers.values())
    scheduler = next(p for p in airflow_processes(cfg) if p.name == "scheduler")
    assert "--skip-serve-logs" in scheduler.args


@pytest.mark.parametrize("runner", ["DaskRunner", "apache_beam.runners.dask.dask_runner.DaskRunner",
                                    "beam_pyspark_runner.pyspark_runner.PySparkRunner"])
def test_beam_runners_that_lose_data_are_refused(runner):
    with pytest.raises(ConfigError, match="deployment.md"):
        load_config(overrides=[f"beam.runner={runner}"])


@pytest.mark.parametrize(("runner", "beam_runner"), [
    ("DirectRunner", "FnApiRunner"),  # the engine behind DirectRunner, without its Prism download
    ("FlinkRunner", "FlinkRunner"), ("SparkRunner", "SparkRunner"), ("DataflowRunner", "DataflowRunner"),
    ("PortableRunner", "PortableRunner"),
])
def test_real_beam_runners_are_accepted(runner, beam_runner):
    assert load_config(overrides=[f"beam.runner={runner}"]).beam.pipeline_args()[0] == f"--runner={beam_runner}"


def test_the_review_store_is_the_clusters_postgres_with_its_password_in_the_secrets_file(tmp_path, secrets):
    from dermflow.review.review_database import PASSWORD_KEY

    effective = cluster_config(load_config(overrides=[f"cluster.state_dir={tmp_path}"]), 13306, 15432)
    assert effective.review.database_url == "postgresql+psycopg2://review@127.0.0.1:15432/review"
    assert effective.review.password_file == ClusterLayout.at(tmp_path).secrets_file
    assert PASSWORD_KEY in secrets and secrets[PASSWORD_KEY] not in effective.to_json()


def test_a_review_database_the_config_names_is_kept_and_sqlite_is_made_absolute():
    named = load_config(overrides=["review.database_url=postgresql://clinic@db:5432/review"])
    assert cluster_config(named, 13306, 15432).review.database_url == "postgresql://clinic@db:5432/review"
    assert cluster_config(load_config()).review.database_url == f"sqlite:///{REPO_ROOT}/var/review/review.sqlite"


def test_a_role_password_is_sent_as_its_scram_verifier():
    import base64
    import hashlib
    import hmac

    from dermflow.cluster.postgres_server import scram_sha256_verifier

    verifier = scram_sha256_verifier("pencil", salt=b"0123456789abcdef")
    assert verifier == scram_sha256_verifier("pencil", salt=b"0123456789abcdef") and "pencil" not in verifier
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    assert (method, iterations, base64.b64decode(salt)) == ("SCRAM-SHA-256", "4096", b"0123456789abcdef")
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", b"0123456789abcdef", 4096)  # RFC 7677's derivation
    assert stored_key == hashlib.sha256(hmac.new(salted, b"Client Key", hashlib.sha256).digest()).digest()
    assert server_key == hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    assert scram_sha256_verifier("pencil") != scram_sha256_verifier("pencil")  # a new salt each time
