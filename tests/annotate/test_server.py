"""The annotation server through its HTTP API: security, GrabCut accuracy, saving, undo, conflicts, resume."""

from __future__ import annotations

import json
import socket
import urllib.parse
from pathlib import Path

import cv2
import numpy as np
import pytest

from ccharmony.checker import checker_from_corners
from ccharmony.dataset.annotations import read_annotation_set
from ccharmony.io.encode import decode_mask
from ccharmony.synth import read_truth

from .conftest import Served, box_around, iou, serve, true_mask


def _path(name: str, rest: str = "") -> str:
    return "/api/images/" + urllib.parse.quote(name, safe="") + rest


def _first(served: Served) -> str:
    return sorted(served.session.photos)[0]


def _annotate_box(served: Served, synth: Path, name: str, letter: str = "a") -> dict:
    client = served.client
    created = client.ok("POST", _path(name, "/foregrounds"))["created"]
    client.ok("POST", _path(name, f"/foregrounds/{created}/propose"), {"box": box_around(true_mask(synth, name, letter))})
    return client.ok("POST", _path(name, f"/foregrounds/{created}/accept"), {})


# --- security -------------------------------------------------------------------------


def test_every_request_needs_the_token(served: Served) -> None:
    client = served.client
    for path in ("/", "/static/app.js", "/api/images", _path(_first(served))):
        status, payload = client.request("GET", path, token=None)
        assert status == 403, path
        assert "token" in payload["error"]
        assert client.request("GET", path, token="not-the-token")[0] == 403
    status, page = client.request("GET", "/?token=" + served.server.token, token=None)
    assert status == 200 and f'content="{served.server.token}"'.encode() in page
    assert client.request("GET", "/static/app.js?token=" + served.server.token, token=None)[0] == 200
    status, listing = client.request("GET", "/api/images")
    assert status == 200 and listing["total"] == 6
    # A state-changing request without the token changes nothing.
    assert client.request("POST", _path(_first(served), "/chart/place"), token=None)[0] == 403
    assert not any((served.annotations / "checkers").iterdir())


def test_a_foreign_host_header_is_refused(served: Served) -> None:
    port = served.server.port
    status, payload = served.client.request("GET", "/api/images", host=f"attacker.example:{port}")
    assert status == 403 and "foreign Host header" in payload["error"]
    assert served.client.request("GET", "/api/images", host=f"127.0.0.1:{port + 1}")[0] == 403
    assert served.client.request("GET", "/api/images", host=f"localhost:{port}")[0] == 200


def test_the_server_listens_on_127_0_0_1_only(served: Served) -> None:
    assert served.server.socket.getsockname() == ("127.0.0.1", served.server.port)
    assert served.server.url.startswith(f"http://127.0.0.1:{served.server.port}/?token=")
    with pytest.raises(OSError):  # another loopback address reaches no listener
        socket.create_connection(("127.0.0.2", served.server.port), timeout=2).close()


def test_paths_outside_the_folders_are_refused(served: Served, tmp_path: Path) -> None:
    client = served.client
    for name in ("..", "%2E%2E", "..%2F..%2Fetc%2Fpasswd"):
        status, _ = client.request("GET", f"/api/images/{name}/overview.jpg")
        assert status in (403, 404), name
    status, payload = client.request("GET", "/api/images/%2E%2E")
    assert status == 403 and "refused" in payload["error"]
    assert client.request("GET", _path("no-such-photo"))[0] == 404
    assert client.request("GET", "/static/..%2Fsession.py")[0] == 404
    # A mask file that is a link out of the folder is neither read nor written through.
    name = _first(served)
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"precious")
    (served.annotations / "masks" / f"{name}_a.png").symlink_to(outside)
    created = client.ok("POST", _path(name, "/foregrounds"))["created"]
    assert created == "a"  # the link is not a foreground
    client.ok("POST", _path(name, "/foregrounds/a/propose"), {"box": [100, 50, 300, 250]})
    status, payload = client.request("POST", _path(name, "/foregrounds/a/accept"), {})
    assert status == 403 and "symbolic link" in payload["error"]
    assert outside.read_bytes() == b"precious"


# --- GrabCut accuracy and the saved files ------------------------------------------------


def test_a_box_alone_reaches_iou_0_9_on_five_scenes(served: Served, synth_set: Path) -> None:
    scores = {}
    for name in sorted(served.session.photos):
        detail = _annotate_box(served, synth_set, name)
        data = (served.annotations / "masks" / f"{name}_a.png").read_bytes()
        raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        assert raw.ndim == 2 and raw.dtype == np.uint8  # 8-bit grey
        assert set(np.unique(raw).tolist()) == {0, 255}
        truth = read_truth(synth_set / "truth" / f"{name}.json")
        assert raw.shape == (truth["size"][1], truth["size"][0])  # the full frame
        assert detail["foregrounds"][0]["saved"]
        scores[name] = iou(raw > 0, true_mask(synth_set, name, "a"))
    assert sum(score >= 0.9 for score in scores.values()) >= 5, scores


def test_edits_undo_redo_and_the_lists(served: Served, synth_set: Path) -> None:
    client = served.client
    name = _first(served)
    mask_file = served.annotations / "masks" / f"{name}_a.png"
    detail = _annotate_box(served, synth_set, name)
    accepted = mask_file.read_bytes()
    split = detail["split"]
    assert (served.annotations / f"{split}_list.txt").read_text() == f"{name}_a\n"
    # Erase a stroke through the middle of the object.
    rows, columns = np.nonzero(decode_mask(accepted))
    middle = [float(np.median(columns)), float(np.median(rows))]
    version = detail["foregrounds"][0]["version"]
    detail = client.ok("POST", _path(name, "/foregrounds/a/stroke"),
                       {"points": [[middle[0] - 20, middle[1]], [middle[0] + 20, middle[1]]], "radius": 4,
                        "mode": "erase", "version": version})
    erased = decode_mask(mask_file)
    assert not erased[int(middle[1]), int(middle[0])]
    assert int(decode_mask(accepted).sum()) - int(erased.sum()) > 200
    assert detail["history"] == {"undo": 2, "redo": 0}
    client.ok("POST", _path(name, "/undo"))
    assert mask_file.read_bytes() == accepted
    client.ok("POST", _path(name, "/redo"))
    assert np.array_equal(decode_mask(mask_file), erased)
    # More GrabCut iterations: the erase stroke stays certain background.
    detail = client.ok("POST", _path(name, "/foregrounds/a/refine"), {"iterations": 2})
    refined = decode_mask(mask_file)
    assert not refined[int(middle[1]), int(middle[0])] and iou(refined, erased) > 0.9
    assert detail["history"]["undo"] == 3
    client.ok("POST", _path(name, "/undo"))
    assert np.array_equal(decode_mask(mask_file), erased)
    # Polygon cut-out, then the whole foreground deleted and restored.
    client.ok("POST", _path(name, "/foregrounds/a/polygon"),
              {"points": [[0, 0], [479, 0], [479, 319], [0, 319]], "mode": "erase"})
    assert not mask_file.exists()  # an emptied mask is deleted, and leaves the lists
    assert (served.annotations / f"{split}_list.txt").read_text() == ""
    client.ok("POST", _path(name, "/undo"))
    assert np.array_equal(decode_mask(mask_file), erased)
    assert (served.annotations / f"{split}_list.txt").read_text() == f"{name}_a\n"
    # Split override moves the foreground to the other list.
    other = "test" if split == "train" else "train"
    detail = client.ok("PUT", _path(name, "/split"), {"split": other})
    assert detail["split"] == other and detail["split_source"] == "user"
    assert (served.annotations / f"{other}_list.txt").read_text() == f"{name}_a\n"
    assert (served.annotations / f"{split}_list.txt").read_text() == ""
    annotations = read_annotation_set(served.annotations)
    assert annotations.image_split(name) == other and not annotations.problems


def test_a_chart_correction_is_saved_in_section_4_order(served: Served) -> None:
    client = served.client
    name = _first(served)
    detail = client.ok("GET", _path(name))
    assert detail["chart"]["state"] == "found"
    corners = np.asarray(detail["chart"]["corners"])
    moved = corners.copy()
    moved[2] += [3.0, -2.0]
    detail = client.ok("PUT", _path(name, "/chart"), {"corners": moved.tolist(), "version": None})
    saved = json.loads((served.annotations / "checkers" / f"{name}.json").read_text())
    np.testing.assert_allclose(saved["corners"], moved, atol=1e-3)
    assert detail["chart"]["state"] == "corrected"
    expected = checker_from_corners(moved).patches
    np.testing.assert_allclose(detail["chart"]["patches"], expected, atol=0.01)
    assert len(detail["chart"]["swatches"]) == 24 and detail["chart"]["orientation"] == "upright"
    # Rotating the order by two reads the chart upside down: the tool says so.
    rotated = np.roll(moved, 2, axis=0)
    detail = client.ok("PUT", _path(name, "/chart"), {"corners": rotated.tolist()})
    assert detail["chart"]["orientation"] == "upside-down"
    status, payload = client.request("PUT", _path(name, "/chart"), {"corners": [[0, 0], [1e6, 0], [1, 1], [0, 1]]})
    assert status == 400 and "inside the 480x320 photo" in payload["error"]
    client.ok("POST", _path(name, "/undo"))
    client.ok("POST", _path(name, "/undo"))
    assert not (served.annotations / "checkers" / f"{name}.json").exists()


def test_a_file_changed_on_disk_is_not_overwritten(served: Served, synth_set: Path) -> None:
    client = served.client
    name = _first(served)
    _annotate_box(served, synth_set, name)
    mask_file = served.annotations / "masks" / f"{name}_a.png"
    theirs = np.zeros((320, 480), np.uint8)
    theirs[10:20, 10:20] = 255
    ok, encoded = cv2.imencode(".png", theirs)
    mask_file.write_bytes(encoded.tobytes())
    status, payload = client.request("POST", _path(name, "/foregrounds/a/stroke"),
                                     {"points": [[100, 100]], "radius": 5, "mode": "add"})
    assert status == 409 and payload["file"] == f"masks/{name}_a.png"
    assert "changed on disk" in payload["error"]
    assert mask_file.read_bytes() == encoded.tobytes()
    # Another window's stale version is refused as well, then a reload takes the disk's file.
    detail = client.ok("POST", _path(name, "/reload"))
    assert detail["foregrounds"][0]["area"] == 100
    status, payload = client.request("POST", _path(name, "/foregrounds/a/stroke"),
                                     {"points": [[100, 100]], "radius": 5, "mode": "add", "version": "stale"})
    assert status == 409 and "another window" in payload["error"]
    client.ok("POST", _path(name, "/foregrounds/a/stroke"), {"points": [[100, 100]], "radius": 5, "mode": "add"})
    assert decode_mask(mask_file)[10:20, 10:20].all() and decode_mask(mask_file)[100, 100]
    # The lists are guarded the same way.
    (served.annotations / "train_list.txt").write_text("someone_else_a\n")
    status, payload = client.request("PUT", _path(name, "/split"), {"split": "test"})
    assert status == 409 and payload["file"] == "train_list.txt"
    assert (served.annotations / "train_list.txt").read_text() == "someone_else_a\n"


def test_a_restart_resumes_where_the_user_stopped(served: Served, synth_set: Path) -> None:
    client = served.client
    names = sorted(served.session.photos)
    _annotate_box(served, synth_set, names[0])
    corners = client.ok("GET", _path(names[1]))["chart"]["corners"]
    corners[0][0] += 1.5
    client.ok("PUT", _path(names[1], "/chart"), {"corners": corners})
    client.ok("PUT", _path(names[0], "/split"), {"split": "test"})
    client.ok("PUT", _path(names[2], "/split"), {"split": "test"})  # no foreground yet: kept by the tool
    before = client.ok("GET", "/api/images")
    served.server.stop()
    again = serve(served.raw, served.annotations)
    try:
        after = again.client.ok("GET", "/api/images")
        assert [r["foregrounds"] for r in after["images"]] == [r["foregrounds"] for r in before["images"]]
        assert [r["split"] for r in after["images"]] == [r["split"] for r in before["images"]]
        assert after["images"][0]["split_source"] == "user" and after["images"][2]["split_source"] == "user"
        detail = again.client.ok("GET", _path(names[1]))
        assert detail["chart"]["state"] == "corrected"
        np.testing.assert_allclose(detail["chart"]["corners"], corners, atol=1e-3)
        version = (served.annotations / "masks" / f"{names[0]}_a.png").read_bytes()
        first = again.client.ok("GET", _path(names[0]))["foregrounds"][0]
        import hashlib

        assert first["version"] == hashlib.sha256(version).hexdigest()
        again.client.ok("POST", _path(names[0], "/foregrounds/a/stroke"),
                        {"points": [[5, 5]], "radius": 3, "mode": "add", "version": first["version"]})
    finally:
        again.server.stop()


def test_tiles_and_overview_are_the_dataset_render(served: Served) -> None:
    from ccharmony.dataset.stages import render_parameters
    from ccharmony.io import read_image
    from ccharmony.render import render_srgb

    client = served.client
    name = _first(served)
    detail = client.ok("GET", _path(name))
    assert detail["levels"] == 1 and detail["overview_size"] == [320, 480]
    status, data = client.request("GET", _path(name, "/tiles/0/0/0.jpg"))
    assert status == 200
    linear = read_image(served.session.photos[name])
    from ccharmony.annotate.photos import encode_jpeg
    from ccharmony.checker import detect, sample

    # Exactly the build's real-image pixels (the real image is a crop of them), then JPEG for display.
    patches = sample(linear, detect(linear))
    expected = render_srgb(linear.RGB, camera_matrix=render_parameters(linear, patches))
    assert np.array_equal(served.session.full_render(name)[..., ::-1], expected)
    assert data == encode_jpeg(np.ascontiguousarray(expected[..., ::-1]))
    assert client.request("GET", _path(name, "/tiles/0/5/0.jpg"))[0] == 404
    assert client.request("GET", _path(name, "/tiles/3/0/0.jpg"))[0] == 404
