"""DICOM images from a PACS: ``dicomweb://`` inputs, listed by QIDO-RS and read one instance at a time by WADO-RS.

    spec = parse_dicomweb_input("dicomweb://pacs:8042/dicom-web/studies/1.2.3")   # or .../instances?StudyDate=...
    for instance in list_instances(spec, auth): ...      # InstanceRef: study, series, instance UIDs
    data = read_instance(instance_url, auth)             # the instance's bytes as stored (transfer-syntax=*)
    header = read_instance_header(instance_url, auth)    # its metadata as a pydicom Dataset, without pixels

Forms of ``--input`` (``dicomwebs://`` for HTTPS): ``.../studies/<uid>``, ``.../studies/<uid>/series/<uid>``,
or a QIDO query ``.../instances?<attribute>=<value>&...`` / ``.../studies?<attribute>=<value>&...``.
The listing pages through QIDO (``limit``/``offset``) and keeps one small record per instance; each
instance's bytes are fetched only when the Beam worker prepares it, so memory stays bounded by the
batch, not the study. dermflow's own results in the study (its SR and segmentation series) are left out.

Each instance gets a path of hashed UIDs (``dicomweb/<study>/<series>/<instance>.dcm``, sha256 hex), which
is what the Parquet, errors and reports name; the raw UIDs live only in the instance's URL, which the
worker needs to fetch it and which is never written.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlparse

from dermflow.clinical.clinical_uids import hashed_name
from dermflow.clinical.dicomweb_credentials import DicomwebAuth

SCHEMES = {"dicomweb": "http", "dicomwebs": "https"}
PAGE_SIZE = 500
TIMEOUT_S = 30
OWN_SERIES_PREFIX = "dermflow "  # series descriptions of what dermflow writes (sr_writer, segmentation_writer)
_SOP_CLASS, _SOP_INSTANCE, _STUDY, _SERIES, _SERIES_DESCRIPTION = "00080016", "00080018", "0020000D", "0020000E", "0008103E"
logging.getLogger("dicomweb_client").setLevel(logging.CRITICAL)  # it logs raw UIDs; outcomes are reported by dermflow


class DicomwebInputError(ValueError):
    """A ``dicomweb://`` input that is malformed, or that the PACS cannot answer."""


@dataclass(frozen=True)
class DicomwebInput:
    base_url: str  # http(s)://host:port/prefix: the DICOMweb root
    study: str = ""
    series: str = ""
    level: str = "instances"  # what a query searches: "instances" or "studies"
    filters: tuple[tuple[str, str], ...] = ()

    def redacted(self) -> str:
        """For logs and console lines: UIDs hashed, query values hidden."""
        parts = [self.base_url]
        if self.study:
            parts.append(f"studies/<{hashed_name(self.study)[:12]}>")
        if self.series:
            parts.append(f"series/<{hashed_name(self.series)[:12]}>")
        if self.filters:
            parts.append(f"{self.level}?" + "&".join(f"{key}=..." for key, _ in self.filters))
        return "/".join(parts)


@dataclass(frozen=True)
class InstanceRef:
    base_url: str
    study: str
    series: str
    instance: str

    @property
    def url(self) -> str:
        """The instance's ``dicomweb(s)://`` address (what travels to the worker)."""
        parsed = urlparse(self.base_url)
        scheme = "dicomwebs" if parsed.scheme == "https" else "dicomweb"
        return f"{scheme}://{parsed.netloc}{parsed.path}/studies/{self.study}/series/{self.series}/instances/{self.instance}"

    @property
    def hashed_path(self) -> str:
        return f"dicomweb/{hashed_name(self.study)}/{hashed_name(self.series)}/{hashed_name(self.instance)}.dcm"


def is_dicomweb(spec: str) -> bool:
    return str(spec).split("://", 1)[0].lower() in SCHEMES if "://" in str(spec) else False


def redact(spec: str) -> str:
    """An ``--input`` as it may be printed: a ``dicomweb://`` one with its UIDs and query values hidden."""
    if not is_dicomweb(spec):
        return spec
    try:
        return parse_dicomweb_input(spec).redacted()
    except DicomwebInputError:
        return "dicomweb://(malformed)"


def parse_dicomweb_input(spec: str) -> DicomwebInput:
    parsed = urlparse(spec)
    if parsed.scheme.lower() not in SCHEMES or not parsed.netloc:
        raise DicomwebInputError("a DICOMweb input looks like dicomweb://HOST:PORT/PREFIX/studies/STUDY_UID")
    segments = [part for part in parsed.path.split("/") if part]
    base = f"{SCHEMES[parsed.scheme.lower()]}://{parsed.netloc}"
    for index, segment in enumerate(segments):
        if segment in ("studies", "instances"):
            root = base + ("/" + "/".join(segments[:index]) if index else "")
            return _resource(root, segment, segments[index + 1:], parse_qsl(parsed.query, keep_blank_values=True))
    raise DicomwebInputError("a DICOMweb input must name .../studies/STUDY_UID or a query .../instances?KEY=VALUE")


def _resource(root: str, level: str, rest: list[str], query: list[tuple[str, str]]) -> DicomwebInput:
    if level == "instances" or not rest:
        if rest:
            raise DicomwebInputError("a DICOMweb instances query takes no path after /instances")
        if not query and level == "studies":
            raise DicomwebInputError("dicomweb://.../studies needs a study UID or a query (?StudyDate=...)")
        return DicomwebInput(root, level=level, filters=tuple(query))
    if len(rest) == 1:
        return DicomwebInput(root, study=rest[0], filters=tuple(query))
    if len(rest) == 3 and rest[1] == "series":
        return DicomwebInput(root, study=rest[0], series=rest[2], filters=tuple(query))
    raise DicomwebInputError("a DICOMweb input names .../studies/STUDY_UID[/series/SERIES_UID] (instances are listed)")


def client(base_url: str, auth: DicomwebAuth | None):
    from dicomweb_client import DICOMwebClient

    session = auth.session() if auth else None
    web = DICOMwebClient(url=base_url, session=session, timeout=TIMEOUT_S)
    web.set_http_retry_params(retry=False)  # dermflow's store and read decide about retries
    return web


def list_instances(spec: DicomwebInput, auth: DicomwebAuth | None) -> list[InstanceRef]:
    """Every instance the input names, sorted by UIDs; dermflow's own SR and segmentation series left out."""
    web = client(spec.base_url, auth)
    filters = dict(spec.filters)
    if spec.study:
        scopes = [({"study_instance_uid": spec.study, "series_instance_uid": spec.series or None}, filters)]
    elif spec.level == "instances":
        scopes = [({}, filters)]
    else:
        studies = [_value(item, _STUDY) for item in _pages(web.search_for_studies, {}, filters)]
        scopes = [({"study_instance_uid": study}, {}) for study in studies]
    found: set[InstanceRef] = set()
    for arguments, search_filters in scopes:
        for item in _pages(web.search_for_instances, arguments, search_filters, fields=[_SERIES_DESCRIPTION]):
            if str(_value(item, _SERIES_DESCRIPTION)).startswith(OWN_SERIES_PREFIX):
                continue
            study = _value(item, _STUDY) or arguments.get("study_instance_uid") or ""
            found.add(InstanceRef(spec.base_url, study, _value(item, _SERIES), _value(item, _SOP_INSTANCE)))
    return sorted(found, key=lambda ref: (ref.study, ref.series, ref.instance))


def _pages(search, arguments: dict, filters: dict, fields: list[str] | None = None):
    offset = 0
    while True:
        page = search(**arguments, search_filters=filters or None, fields=fields, limit=PAGE_SIZE, offset=offset)
        yield from page
        if len(page) < PAGE_SIZE:
            return
        offset += len(page)


def _value(item: dict, tag: str) -> str:
    values = (item.get(tag) or {}).get("Value") or [""]
    return str(values[0])


def instance_ref(url: str) -> InstanceRef:
    """A worker's ``dicomweb(s)://.../studies/S/series/R/instances/I`` back into its parts."""
    parsed = urlparse(url)
    segments = [part for part in parsed.path.split("/") if part]
    if len(segments) < 6 or segments[-6] != "studies" or segments[-4] != "series" or segments[-2] != "instances":
        raise DicomwebInputError("not a DICOMweb instance address")
    root = f"{SCHEMES[parsed.scheme.lower()]}://{parsed.netloc}" + ("/" + "/".join(segments[:-6]) if segments[:-6] else "")
    return InstanceRef(root, segments[-5], segments[-3], segments[-1])


def read_instance(url: str, auth: DicomwebAuth | None) -> bytes:
    """WADO-RS: the instance's Part 10 bytes as the PACS holds them (no transcoding); raises OSError."""
    ref = instance_ref(url)
    web = _cached_client(ref.base_url, auth)
    address = f"{ref.base_url}/studies/{ref.study}/series/{ref.series}/instances/{ref.instance}"
    try:
        response = web._session.get(address, timeout=TIMEOUT_S, headers={
            "Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*',
        })
    except Exception as exc:  # requests' ConnectionError, Timeout ...: the instance cannot be read now
        raise OSError(f"the PACS did not answer ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise OSError(f"the PACS answered HTTP {response.status_code} to WADO-RS")
    return _single_part(response.content, response.headers.get("Content-Type", ""))


def read_instance_header(url: str, auth: DicomwebAuth | None):
    """WADO-RS metadata of one instance as a pydicom Dataset (no pixel data)."""
    import pydicom

    ref = instance_ref(url)
    metadata = _cached_client(ref.base_url, auth).retrieve_instance_metadata(ref.study, ref.series, ref.instance)
    dataset = pydicom.Dataset.from_json(metadata, bulk_data_uri_handler=lambda *args: b"")
    for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
        if keyword in dataset:
            delattr(dataset, keyword)
    return dataset


_CLIENTS: dict[tuple, object] = {}


def _cached_client(base_url: str, auth: DicomwebAuth | None):
    """One HTTP session per PACS and worker process (connections are reused across instances)."""
    key = (base_url, auth)
    if key not in _CLIENTS:
        _CLIENTS[key] = client(base_url, auth)
    return _CLIENTS[key]


def _single_part(body: bytes, content_type: str) -> bytes:
    """The first part of a ``multipart/related`` body (one instance was asked for)."""
    boundary = ""
    for parameter in content_type.split(";"):
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        return body
    delimiter = b"--" + boundary.encode("ascii")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, separator, content = part.partition(b"\r\n\r\n")
        if separator:
            return content[:-2] if content.endswith(b"\r\n") else content
    raise OSError("the PACS answered an empty multipart message")

