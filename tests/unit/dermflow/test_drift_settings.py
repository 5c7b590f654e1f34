"""The drift section of the config: each feature under the comparator that can fire on it."""
import pytest

from dermflow.config import ConfigError, load_config
from dermflow.config.drift_settings import CATEGORICAL_FEATURES, NUMERIC_FEATURES


def test_every_monitored_feature_is_compared_by_default_under_its_comparator():
    drift = load_config().drift
    assert set(drift.jensen_shannon) == set(NUMERIC_FEATURES)
    assert set(drift.infinity_norm) == set(CATEGORICAL_FEATURES)
    assert set(drift.thresholds()) == set(NUMERIC_FEATURES + CATEGORICAL_FEATURES)
    assert drift.enabled and 0 < drift.audit_share <= 1 and drift.min_rows >= 1


def test_a_numeric_feature_under_infinity_norm_is_refused_with_where_it_belongs():
    # TFDV's L-infinity on a numeric feature silently measures 0: it could never fire.
    with pytest.raises(ConfigError, match=r"drift.infinity_norm.*width.*belong under drift.jensen_shannon"):
        load_config(None, ["drift.infinity_norm={width: 0.1}"])
    with pytest.raises(ConfigError, match=r"drift.jensen_shannon.*format.*belong under drift.infinity_norm"):
        load_config(None, ["drift.jensen_shannon={format: 0.1}"])


@pytest.mark.parametrize("override, message", [
    ("drift.jensen_shannon={wdth: 0.1}", "not \\['wdth'\\]"),
    ("drift.jensen_shannon={width: 0}", "thresholds must be in \\(0, 1\\]"),
    ("drift.infinity_norm={format: 1.5}", "thresholds must be in \\(0, 1\\]"),
    ("drift.notifier=not a path", "no dotted path"),
    ("drift.audit_share=2", "drift.audit_share"),
    ("drift.thresholds=1", "drift.thresholds: unknown key"),
])
def test_bad_drift_settings_say_which_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_no_feature_at_all_is_refused_unless_the_check_is_off():
    with pytest.raises(ConfigError, match="no feature to compare"):
        load_config(None, ["drift.jensen_shannon={}", "drift.infinity_norm={}"])
    assert not load_config(None, ["drift.enabled=false", "drift.jensen_shannon={}", "drift.infinity_norm={}"]).drift.enabled


def test_a_setting_file_may_name_fewer_features_and_a_notifier():
    cfg = load_config(None, ["drift.jensen_shannon={mean_brightness: 0.2}", "drift.infinity_norm={out_of_scope: 0.05}",
                             "drift.notifier=my_alerts.slack:drift_notifier"])
    assert cfg.drift.thresholds() == {"mean_brightness": 0.2, "out_of_scope": 0.05}
    assert cfg.drift.notifier == "my_alerts.slack:drift_notifier"
