"""AWS's published on-demand prices the cost figures use: us-east-1, as listed on the AWS pricing pages
(DynamoDB on-demand after the 2024-11-01 price cut, Lambda arm64, HTTP API, CloudWatch Logs), checked
2025. Change them here; docs/performance.md repeats them next to the figures."""

from __future__ import annotations

from dataclasses import dataclass

REGION = "us-east-1"
AS_OF = "2025 (DynamoDB on-demand prices as cut on 2024-11-01)"

DYNAMODB_PER_MILLION_RRU = 0.125  # read request units, on-demand (1 RRU: one strongly consistent read <= 4 KB)
DYNAMODB_PER_MILLION_WRU = 0.625  # write request units, on-demand (1 WRU: one write <= 1 KB; transactions 2x)
LAMBDA_PER_MILLION_REQUESTS = 0.20
LAMBDA_ARM64_PER_GB_S = 0.0000133334  # first 7.5 billion GB-s a month
HTTP_API_PER_MILLION = 1.00  # first 300 million requests a month
CLOUDWATCH_LOGS_PER_GB = 0.50  # ingestion (standard class)


@dataclass(frozen=True)
class CostPerMillion:
    api: float
    lambda_requests: float
    lambda_duration: float
    dynamodb: float
    logs: float

    @property
    def total(self) -> float:
        return self.api + self.lambda_requests + self.lambda_duration + self.dynamodb + self.logs


def per_million(*, rru: float, wru: float, billed_ms: float, memory_mb: int, log_bytes: float) -> CostPerMillion:
    """Dollars per million calls from one call's measured capacity units, billed duration and log bytes."""
    gb_s = memory_mb / 1024 * billed_ms / 1000
    return CostPerMillion(
        api=HTTP_API_PER_MILLION,
        lambda_requests=LAMBDA_PER_MILLION_REQUESTS,
        lambda_duration=gb_s * LAMBDA_ARM64_PER_GB_S * 1_000_000,
        dynamodb=rru * DYNAMODB_PER_MILLION_RRU + wru * DYNAMODB_PER_MILLION_WRU,
        logs=log_bytes * 1_000_000 / 1024**3 * CLOUDWATCH_LOGS_PER_GB,
    )
