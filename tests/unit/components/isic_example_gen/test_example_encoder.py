import pytest
from tfx_bsl.coders.example_coder import ExamplesToRecordBatchDecoder, RecordBatchToExamplesEncoder

from dermflow.components.isic_example_gen.example_encoder import age_bucket, example_features, features_to_record_batch
from dermflow.isic.csv_reader import IsicRecord


@pytest.mark.parametrize("age, bucket", [(-1, "unknown"), (0, "<30"), (29, "<30"), (30, "30-44"), (44, "30-44"),
                                         (60, "60-74"), (75, "75+"), (90, "75+")])
def test_age_bucket(age, bucket):
    assert age_bucket(age, (30, 45, 60, 75)) == bucket


def test_features_round_trip_through_a_serialized_example():
    record = IsicRecord("ISIC_1_downsampled", "MEL", "HAM_1", 45, "male", "head/neck")
    features = example_features(record, b"\xff\xd8jpeg", 600, 450, "ab" * 32, (30, 45, 60, 75), "png")
    serialized = RecordBatchToExamplesEncoder().encode(features_to_record_batch([features]))[0]
    decoded = ExamplesToRecordBatchDecoder().DecodeBatch([serialized]).to_pydict()
    assert {k: v[0][0] for k, v in decoded.items()} == {
        "image": b"\xff\xd8jpeg", "image_id": b"ISIC_1_downsampled", "diagnosis": b"MEL", "lesion_id": b"HAM_1",
        "age_approx": 45, "age_bucket": b"45-59", "sex": b"male", "anatom_site_general": b"head/neck",
        "width": 600, "height": 450, "sha256": ("ab" * 32).encode(), "format": b"png",
    }
