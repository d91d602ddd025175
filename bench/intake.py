"""Intake channels over real HTTP: ``python bench/intake.py [--var DIR]`` (also run by
``make bench``) loads the demo city into a temporary SQLite database (or uses an already
loaded ``--var``), starts the web server (gunicorn, 2 workers) and times each channel's
requests from a client process, then writes the "Intake channels" section of
docs/benchmarks.md. The portal's flood limit is lifted for the run (it would refuse the
benchmark's own reports).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "benchmarks.md"
sys.path.insert(0, str(ROOT / "bench"))

from run import machine  # noqa: E402

from citykeeper.benchmarks import write_section  # noqa: E402

# A point inside a unit grid of the demo city (鼓楼区 core) and the demo's fixed keys.
LON, LAT = 117.2064, 34.2584
OPEN311_KEY = "o311_citykeeper-demo"
CAMERA_KEY = "dev_citykeeper-demo-320302"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jpeg(seed: int, size=(1600, 1200)) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, (90, 120, 60))
    draw = ImageDraw.Draw(image)
    for i in range(0, size[0], 40):  # some detail, so the JPEG is not trivially small
        draw.line([(i, 0), (size[0] - i, size[1])], fill=((i * 7 + seed * 40) % 255, 80, 160), width=3)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes, str]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, data, kind in files:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {kind}\r\n\r\n".encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _problem(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    alert = re.search(r'<div class="p-alert".*?</div>', text, flags=re.S)
    return re.sub(r"<[^>]+>|\s+", " ", alert.group(0)).strip() if alert else text[:300]


class Client:
    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def call(self, method: str, path: str, data: bytes | None = None, headers: dict | None = None, expect=(200,)):
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with self.opener.open(request, timeout=60) as response:
                body, status = response.read(), response.status
        except urllib.error.HTTPError as exc:
            body, status = exc.read(), exc.code
        if status not in expect:
            raise RuntimeError(f"{method} {path}: {status} {_problem(body)}")
        return body


def timed(fn, n: int) -> dict:
    fn(-1)  # warm-up
    times = []
    for i in range(n):
        started = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"n": n, "median": statistics.median(times), "p95": times[max(0, round(n * 0.95) - 1)]}


def measure(base: str, n: int) -> list[tuple[str, dict, str]]:
    c = Client(base)
    token = json.loads(
        c.call(
            "POST",
            "/api/v1/auth/token",
            json.dumps({"username": "inspector", "password": "citykeeper-demo"}).encode(),
            {"Content-Type": "application/json"},
            expect=(201,),
        )
    )["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    # The citizens' list (the national and local codebook), as the portal offers it.
    portal_page = c.call("GET", "/report/").decode()
    category = int(re.search(r'<option value="(\d+)"[^>]*>暴露垃圾</option>', portal_page).group(1))
    photos = [jpeg(i) for i in range(3)]
    photo_kb = round(sum(map(len, photos)) / 3 / 1024)
    rows = []

    def api_json(i):
        body = {
            "category": category,
            "lon": LON,
            "lat": LAT,
            "description": "基准测试上报",
            "idempotency_key": uuid.uuid4().hex,
        }
        c.call(
            "POST", "/api/v1/cases", json.dumps(body).encode(), {**bearer, "Content-Type": "application/json"}, (201,)
        )

    def api_photos(i):
        body = {
            "category": category,
            "lon": LON,
            "lat": LAT,
            "description": "基准测试上报",
            "idempotency_key": uuid.uuid4().hex,
        }
        data, kind = multipart(
            {"case": json.dumps(body)}, [("photos", f"p{j}.jpg", p, "image/jpeg") for j, p in enumerate(photos)]
        )
        c.call("POST", "/api/v1/cases/with-photos", data, {**bearer, "Content-Type": kind}, (201,))

    fixed_key = uuid.uuid4().hex

    def api_retry(i):
        body = {"category": category, "lon": LON, "lat": LAT, "description": "重试", "idempotency_key": fixed_key}
        c.call(
            "POST",
            "/api/v1/cases",
            json.dumps(body).encode(),
            {**bearer, "Content-Type": "application/json"},
            (200, 201),
        )

    def portal_report(i):
        page = c.call("GET", "/report/").decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        key = re.search(r'name="key" value="([^"]+)"', page).group(1)
        fields = {
            "csrfmiddlewaretoken": csrf,
            "key": key,
            "category": str(category),
            "lon": str(LON),
            "lat": str(LAT),
            "place": "",
            "description": "基准测试：路边有暴露垃圾",
            "reporter_name": "",
            "reporter_phone": "",
        }
        data, kind = multipart(fields, [("photos", "p.jpg", photos[0], "image/jpeg")])
        c.call("POST", "/report/", data, {"Content-Type": kind, "Referer": base + "/report/"}, (200, 302))

    def open311_post(i):
        form = urllib.parse.urlencode(
            {"service_code": f"E{categories_code}", "lat": LAT, "long": LON, "description": "基准测试"}
        ).encode()
        c.call(
            "POST",
            f"/open311/v2/requests.xml?api_key={OPEN311_KEY}&jurisdiction_id=",
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
            (201,),
        )

    chosen = json.loads(c.call("GET", f"/api/v1/codebook/categories/{category}", headers=bearer))
    categories_code = chosen["minor_code"]

    def camera(i):
        body = {"event_type": "garbage_exposed", "confidence": 0.9, "lon": LON + ((i % 7) - 3) * 0.0002, "lat": LAT}
        c.call(
            "POST",
            "/api/v1/devices/events",
            json.dumps(body).encode(),
            {"X-Device-Key": CAMERA_KEY, "Content-Type": "application/json"},
            (200, 201),
        )

    app = Client(base)
    login = app.call("GET", "/login/?next=/m/").decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login).group(1)
    app.call(
        "POST",
        "/login/?next=/m/",
        f"csrfmiddlewaretoken={csrf}&username=inspector&password=citykeeper-demo".encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "Referer": base + "/login/"},
        (200, 302),
    )

    def inspector_page(i):
        app.call("GET", "/m/")

    cases = [
        ("API `POST /cases` (JSON)", api_json, ""),
        ("API `POST /cases/with-photos` (3 photos)", api_photos, f"3 × {photo_kb} KB JPEG, 1600×1200"),
        ("API retry with the same idempotency key", api_retry, "answers the first case"),
        ("portal `GET /report/` + `POST /report/` (1 photo)", portal_report, "form, CSRF, thank-you redirect"),
        ("Open311 `POST requests.xml` (form-encoded)", open311_post, "demo key, empty jurisdiction"),
        ("camera `POST /devices/events`", camera, "fold or new case"),
        ("Open311 `GET requests.json` (1,000 rows)", lambda i: c.call("GET", "/open311/v2/requests.json"), "90 days"),
        ("Open311 `GET requests.xml` (1,000 rows)", lambda i: c.call("GET", "/open311/v2/requests.xml"), ""),
        (
            "portal `GET /map/cases.json` (whole city, zoom 12)",
            lambda i: c.call("GET", "/map/cases.json?bbox=116.9,34.0,117.6,34.6&zoom=12"),
            "counts per cell, every case",
        ),
        (
            "portal `GET /map/cases.json` (whole city, zoom 17)",
            lambda i: c.call("GET", "/map/cases.json?bbox=116.9,34.0,117.6,34.6&zoom=17"),
            "the newest 2,000 points",
        ),
        ("inspector app `GET /m/` (signed in)", inspector_page, "the page with the whole codebook"),
    ]

    for label, fn, note in cases:
        rows.append((label, timed(fn, n), note))
        print(f"{label}: {rows[-1][1]}", file=sys.stderr)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--var", help="an already loaded CITYKEEPER_VAR (default: load the demo into a temporary one)")
    parser.add_argument("-n", type=int, default=40, help="requests per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        var = args.var or temporary
        env = {
            **os.environ,
            "CITYKEEPER_DB": "sqlite",
            "CITYKEEPER_VAR": var,
            "CITYKEEPER_LOG_LEVEL": "WARNING",
            "CITYKEEPER_PORTAL_REPORTS_PER_HOUR": "1000000",
        }
        citykeeper = [sys.executable, "-m", "citykeeper"]
        if not args.var:
            subprocess.run([*citykeeper, "load-demo"], env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen([*citykeeper, "serve", "--port", str(port)], env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=2)
                    break
                except OSError:
                    time.sleep(0.3)
            rows = measure(base, args.n)
        finally:
            server.terminate()
            server.wait(timeout=20)
    table = "\n".join(
        f"| {label} | {r['n']} | {r['median']:.0f} | {r['p95']:.0f} | {note} |" for label, r, note in rows
    )
    section = f"""## Intake channels over HTTP

Written by `make bench` (`bench/intake.py`). Machine: {machine()}. The demo city on SQLite,
served by gunicorn (2 workers × 4 threads) on 127.0.0.1, one client process sending one
request at a time; milliseconds from the request to the last byte of the answer.

| request | n | median ms | p95 ms | note |
| --- | ---: | ---: | ---: | --- |
{table}
"""
    write_section(REPORT, "## Intake channels", section)
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
