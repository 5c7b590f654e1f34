"""STOW-RS of dermflow's results into a PACS, with retries and backoff, and an outcome for every try.

    store = DicomwebStore(url, auth, attempts=3, backoff_seconds=0.5)
    outcome = store.store([sr_bytes, segmentation_bytes])   # Part 10 files; StoreOutcome(status, reason, message, attempts)
    check_dicomweb_endpoint(url, auth)            # raises DicomwebEndpointError: one line, before a job starts

One STOW-RS request per image carries its SR and its segmentation, so both are stored or neither is
counted. The objects go as the Part 10 bytes already written to ``score.clinical_results_dir``, through
dicomweb-client's multipart POST of encoded instances (encoding an SR costs as much as building it). Connection errors, timeouts, 408, 429 and 5xx are retried (``attempts`` tries, waiting
``backoff_seconds`` x 1, 2, 4 ...); 401/403 and other 4xx are not (retrying cannot fix them). A
store the PACS answers with a Failed SOP Sequence is failed. Messages name HTTP statuses and
exception types, never UIDs or attribute values.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum

from dermflow.clinical.dicomweb_credentials import DicomwebAuth

TIMEOUT_S = 30
RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
logging.getLogger("dicomweb_client").setLevel(logging.CRITICAL)  # it logs raw UIDs; outcomes are reported by dermflow


class StoreStatus(StrEnum):
    STORED = "stored"  # in the PACS (and in score.clinical_results_dir)
    WRITTEN = "written"  # in score.clinical_results_dir only (no score.dicomweb_url)
    FAILED = "failed"  # retried by the next run


class FailureReason(StrEnum):
    PACS_UNREACHABLE = "pacs_unreachable"  # connection refused, timed out, 5xx after every attempt
    PACS_REFUSED = "pacs_refused"  # 4xx or a Failed SOP Sequence
    PACS_AUTH = "pacs_auth"  # 401 / 403
    SOURCE_UNREADABLE = "source_unreadable"  # the source's header could not be read again
    NOT_WRITTEN = "not_written"  # building or writing the SR / segmentation failed


@dataclass(frozen=True)
class StoreOutcome:
    status: StoreStatus
    reason: str = ""
    message: str = ""
    attempts: int = 0


class DicomwebEndpointError(ValueError):
    """``score.dicomweb_url`` cannot be used: unreachable, not DICOMweb, or the credentials are refused."""


class DicomwebStore:
    def __init__(self, url: str, auth: DicomwebAuth | None, attempts: int = 3, backoff_seconds: float = 0.5,
                 sleep=time.sleep):
        from dermflow.clinical.dicomweb_source import client

        self._client = client(url.rstrip("/"), auth)
        self._attempts = max(1, int(attempts))
        self._backoff_seconds = float(backoff_seconds)
        self._sleep = sleep

    def store(self, instances: list[bytes]) -> StoreOutcome:
        """``instances``: DICOM Part 10 files (bytes)."""
        outcome = StoreOutcome(StoreStatus.FAILED, FailureReason.PACS_UNREACHABLE, "not tried")
        for attempt in range(1, self._attempts + 1):
            outcome = self._try(instances, attempt)
            if outcome.status == StoreStatus.STORED or outcome.reason != FailureReason.PACS_UNREACHABLE:
                return outcome
            if attempt < self._attempts:
                self._sleep(self._backoff_seconds * 2 ** (attempt - 1))
        return outcome

    def _try(self, instances: list[bytes], attempt: int) -> StoreOutcome:
        import requests
        from dicomweb_client.web import _Transaction

        try:
            url = self._client._get_studies_url(_Transaction.STORE, None)
            response = self._client._http_post_multipart_application_dicom(url, instances)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            return StoreOutcome(StoreStatus.FAILED, _reason_for_status(status), f"STOW-RS answered HTTP {status}", attempt)
        except (requests.ConnectionError, requests.Timeout) as exc:
            return StoreOutcome(StoreStatus.FAILED, FailureReason.PACS_UNREACHABLE,
                                f"the PACS did not answer ({type(exc).__name__})", attempt)
        except Exception as exc:  # a malformed answer: counted as refused, never as stored
            return StoreOutcome(StoreStatus.FAILED, FailureReason.PACS_REFUSED,
                                f"STOW-RS failed ({type(exc).__name__})", attempt)
        failed = list(getattr(response, "FailedSOPSequence", []) or [])
        if failed:
            codes = sorted({f"0x{int(item.get('FailureReason', 0)):04X}" for item in failed})
            return StoreOutcome(StoreStatus.FAILED, FailureReason.PACS_REFUSED,
                                f"the PACS refused {len(failed)} of {len(instances)} objects (failure {', '.join(codes)})",
                                attempt)
        return StoreOutcome(StoreStatus.STORED, "", "", attempt)


def _reason_for_status(status: int) -> FailureReason:
    if status in (401, 403):
        return FailureReason.PACS_AUTH
    if status in RETRIED_STATUSES:
        return FailureReason.PACS_UNREACHABLE
    return FailureReason.PACS_REFUSED


def check_dicomweb_endpoint(url: str, auth: DicomwebAuth | None, what: str = "score.dicomweb_url") -> None:
    """A QIDO-RS ``GET {url}/studies?limit=1`` answers 200 (or 204); anything else is one clear line."""
    import requests

    session = auth.session() if auth else requests.Session()
    try:
        response = session.get(f"{url.rstrip('/')}/studies", params={"limit": "1"}, timeout=10,
                               headers={"Accept": "application/dicom+json"})
    except requests.RequestException as exc:
        raise DicomwebEndpointError(f"{what} {url} cannot be reached ({type(exc).__name__}); is the PACS running?") from None
    finally:
        session.close()
    if response.status_code in (401, 403):
        raise DicomwebEndpointError(
            f"{what} {url} refused the credentials (HTTP {response.status_code}): set DERMFLOW_DICOMWEB_USERNAME and "
            "DERMFLOW_DICOMWEB_PASSWORD (or DERMFLOW_DICOMWEB_TOKEN), or score.dicomweb_conn_id"
        )
    if response.status_code not in (200, 204):
        raise DicomwebEndpointError(
            f"{what} {url} is no DICOMweb root: QIDO-RS {url.rstrip('/')}/studies answered HTTP {response.status_code}"
        )
