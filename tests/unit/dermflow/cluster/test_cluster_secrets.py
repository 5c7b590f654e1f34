import stat

from dermflow.cluster.cluster_secrets import SECRET_NAMES, ensure_secrets, read_secrets


def test_first_start_generates_every_secret_owner_only(tmp_path):
    path = tmp_path / "secrets.env"
    values = ensure_secrets(path)
    assert set(values) == set(SECRET_NAMES)
    assert all(len(value) >= 32 for value in values.values())
    assert len(set(values.values())) == len(SECRET_NAMES)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_later_starts_reuse_the_file(tmp_path):
    path = tmp_path / "secrets.env"
    first = ensure_secrets(path)
    assert ensure_secrets(path) == first == read_secrets(path)


def test_two_checkouts_get_different_secrets(tmp_path):
    assert ensure_secrets(tmp_path / "a.env") != ensure_secrets(tmp_path / "b.env")


def test_a_missing_secret_is_added_and_the_others_kept(tmp_path):
    path = tmp_path / "secrets.env"
    first = ensure_secrets(path)
    path.write_text("".join(f"{k}={v}\n" for k, v in first.items() if k != "JWT_SECRET"))
    second = ensure_secrets(path)
    assert second["JWT_SECRET"] and second["JWT_SECRET"] != first["JWT_SECRET"]
    assert {k: v for k, v in second.items() if k != "JWT_SECRET"} == {k: v for k, v in first.items() if k != "JWT_SECRET"}


def test_fernet_key_is_valid():
    from cryptography.fernet import Fernet

    from dermflow.cluster.cluster_secrets import new_secret

    fernet = Fernet(new_secret("FERNET_KEY").encode())
    assert fernet.decrypt(fernet.encrypt(b"x")) == b"x"
