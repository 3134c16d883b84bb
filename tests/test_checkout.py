"""`make test` leaves a clean checkout clean (issue 27): tests write into temporary folders; the README's
screenshots in docs/ are refreshed by `make screenshots`, which sets LATENT_EXPLORER_SHOTS=docs."""

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# A tracked folder named as a path in a test: ROOT / "docs", Path("docs/...") or "docs/x.png".
TRACKED = re.compile(r"""["'](docs|checkpoints|lab|explorer|training)(/[^"']*)?["']""")


def test_no_test_names_a_tracked_folder_as_a_destination():
    named = {
        f"{path.name}:{number}": line.strip()
        for path in sorted(TESTS.glob("*.py"))
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ("screenshot(" in line or "write_" in line or "save" in line or "SHOT" in line)
        and TRACKED.search(line)
        and "tmp_path" not in line  # a folder of that name inside the test's own tmp folder
    }
    assert not named, named


def test_screenshots_go_to_the_tests_tmp_folder_unless_asked(shots_dir, tmp_path):
    assert shots_dir == tmp_path
    assert not str(shots_dir).startswith(str(TESTS.parent) + "/docs")
