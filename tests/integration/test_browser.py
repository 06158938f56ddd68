"""The browse page and the API docs in headless Chromium (tests/browser/browse.mjs)."""
import io
import json
import os
import shutil
import subprocess
import uuid

import requests
from PIL import Image

from roost_stack import BUILD, ROOT, Stack, new_user


def test_docs_and_browse_pages_in_a_real_browser():
    assert shutil.which("node"), "node is missing: run scripts/setup.sh"
    assert os.path.exists("/usr/bin/chromium"), "chromium is missing: run scripts/setup.sh"
    assert os.path.isdir(os.path.join(ROOT, "node_modules", "playwright-core")), "run scripts/setup.sh"
    s = Stack(workers=1)
    try:
        s.start()
        username = "browser" + uuid.uuid4().hex[:6]
        body = new_user(0, username=username)
        assert requests.post(s.url("/api/v1/users"), json=body, timeout=10).status_code == 201
        token = requests.post(s.url("/api/v1/auth/token"), json={"username": username, "password": body["password"]},
                              timeout=10).json()["access_token"]
        auth = {"Authorization": "Bearer " + token}
        for price, prop in (
            (1200, {"name": "Alfama Loft", "type": "apartment", "city": "Lisbon", "address": "1 Rua da Saudade",
                    "location": {"lat": 38.7118, "lon": -9.1300}}),
            (350000, {"name": "Tagus View", "type": "house", "city": "Lisbon", "address": "9 Rua do Sol",
                      "location": {"lat": 38.7071, "lon": -9.1355}, "rooms": [
                {"name": "Master bedroom", "kind": "bedroom", "area_m2": 18.5, "characteristics": {"floor": 4, "windows": 2}},
                {"name": "Kitchen", "kind": "kitchen", "area_m2": 9, "characteristics": {"gas": False}}]}),
            (900, {"name": "Ribeira Studio", "type": "studio", "city": "Porto", "address": "3 Cais da Ribeira",
                   "location": {"lat": 41.1407, "lon": -8.6131}}),
        ):
            r = requests.post(s.url("/api/v1/properties"), headers=auth, data=json.dumps(prop),
                              timeout=10)
            assert r.status_code == 201, r.text
            listing = {"property_id": r.json()["id"], "price": price, "listing_type": "sale" if price > 10000 else "rent"}
            if prop["name"] == "Tagus View":  # two photos: the gallery and a cover on the search results
                for color in ((200, 120, 40), (40, 120, 200)):
                    picture = io.BytesIO()
                    Image.new("RGB", (320, 200), color).save(picture, "JPEG")
                    up = requests.post(s.url(f"/api/v1/properties/{listing['property_id']}/media"),
                                       headers={**auth, "Content-Type": "image/jpeg"}, data=picture.getvalue(),
                                       timeout=30)
                    assert up.status_code == 201, up.text
            r = requests.post(s.url("/api/v1/listings"), headers=auth, data=json.dumps(listing), timeout=10)
            assert r.status_code == 201, r.text
        shots = os.path.join(BUILD, "screenshots")
        env = dict(os.environ, ROOST_BROWSER_USER=username)
        run = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "browse.mjs"), s.base, shots],
                             capture_output=True, text=True, timeout=180, env=env, cwd=ROOT)
        assert run.returncode == 0, run.stdout + run.stderr
        for name in ("docs.png", "city.png", "property.png", "users.png", "search-390.png", "search-412.png"):
            assert os.path.getsize(os.path.join(shots, name)) > 1000
    finally:
        s.stop()
