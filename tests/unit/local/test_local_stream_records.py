"""Stream records as the local gateway hands them to functions: their time follows the application clock."""

from __future__ import annotations

import datetime

from infra.local.streams import lambda_record

RAW = {
    "eventID": "1",
    "eventName": "MODIFY",
    "dynamodb": {
        "ApproximateCreationDateTime": datetime.datetime(2026, 12, 7, 6, 0, tzinfo=datetime.UTC),
        "Keys": {"pk": {"S": "T#tn_1"}, "sk": {"S": "TENANT"}},
        "SequenceNumber": "42",
    },
}
AT = int(datetime.datetime(2026, 12, 7, 6, 0, tzinfo=datetime.UTC).timestamp())


def test_a_record_is_stamped_in_epoch_seconds_on_the_application_clock() -> None:
    assert lambda_record(RAW, "arn:stream", "us-east-1")["dynamodb"]["ApproximateCreationDateTime"] == AT
    moved = lambda_record(RAW, "arn:stream", "us-east-1", offset_s=40 * 86_400)  # a test moved the clock
    assert moved["dynamodb"]["ApproximateCreationDateTime"] == AT + 40 * 86_400
    assert moved["eventSourceARN"] == "arn:stream" and moved["awsRegion"] == "us-east-1"
    assert RAW["dynamodb"]["ApproximateCreationDateTime"].year == 2026  # the record read is not changed
