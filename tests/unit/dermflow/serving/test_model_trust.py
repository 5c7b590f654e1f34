"""What /api/v1/model and /api/v1/predict say about the out-of-scope flag (api_routes, prediction_body)."""
from types import SimpleNamespace

import numpy as np

from dermflow.inference.lesion_predictor import LesionPrediction
from dermflow.inference.prediction_reading import ModelFacts
from dermflow.serving.api_routes import model_trust
from dermflow.serving.prediction_body import prediction_body


def test_model_trust_carries_the_flag_status_and_the_wording():
    calibration = {"temperature": 1.4, "fit": {"fitted": True}, "abstention": {"method": "hod", "codes": ["BKL"]},
                   "out_of_scope": {"signals": ["novelty", "memory"], "in_scope_retention": 0.95,
                                    "flag": {"status": "beyond_every_held_out_image", "held_out_in_scope": 9,
                                             "needed": 19}}}
    trust = model_trust(calibration)
    assert trust["fitted"] and trust["out_of_scope"]["flag"]["needed"] == 19
    assert trust["abstention"]["codes"] == ["BKL"]
    assert trust["out_of_scope_reasons"] == {
        "other_diagnosis": "Looks like another diagnosis, one this model does not report",
        "novel": "Looks unlike anything the model knows",
        "other_diagnosis_and_novel": "Looks like another diagnosis, and unlike anything the model knows"}
    assert model_trust({}) is None


def test_a_flagged_prediction_says_why_in_words():
    model = SimpleNamespace(name="m", version="v", labels=["MEL", "NV", "BCC"],
                            facts=ModelFacts(["MEL", "NV", "BCC"], coverage=0.9, trust_fitted=True))
    prepared = SimpleNamespace(data=b"jpeg", format="jpeg", width=4, height=4)
    prediction = LesionPrediction(np.array([0.2, 0.7, 0.1], np.float32), 1, "NV", np.zeros((2, 2), np.float32),
                                  in_scope_score=0.01, out_of_scope=True, out_of_scope_reason="other_diagnosis",
                                  prediction_set=("NV",), other_diagnosis_probability=0.83)
    body = prediction_body(model, prediction, prepared, "notice")
    assert body["out_of_scope_reason"] == "other_diagnosis" and body["other_diagnosis_probability"] == 0.83
    assert body["out_of_scope_message"] == "Looks like another diagnosis, one this model does not report"
    assert body["reading"]["kind"] == "out_of_scope"
    assert body["reading"]["detail"].startswith("Looks like another diagnosis, one this model does not report. ")
    in_scope = LesionPrediction(np.array([0.2, 0.7, 0.1], np.float32), 1, "NV", np.zeros((2, 2), np.float32),
                                in_scope_score=0.6, out_of_scope=False)
    assert "out_of_scope_message" not in prediction_body(model, in_scope, prepared, "notice")
