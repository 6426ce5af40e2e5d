"""Installing archives from anyone: hostile entries are refused before anything is written, and
a refused or failed install leaves nothing behind (spec §4.9, §7-2, §7-3)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ccr_aio.presets import install as installing
from ccr_aio.presets.archive import MAX_ENTRIES
from ccr_aio.presets.store import PresetError, read_manifest
from tests.presets_helpers import manifest, preset_zip, zero_bomb, zip_bytes


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "ccr"
    home.mkdir()
    (home / "config.json").write_text("{}")
    return home


def install(home: Path, data: bytes, name: str | None = None, **options) -> dict:
    return installing.install(home / "presets", installing.prepare(data, name), **options)


def assert_refused(home: Path, data: bytes, fragment: str, status: int = 400) -> None:
    before = files_under(home.parent)
    with pytest.raises(PresetError) as caught:
        install(home, data, "victim")
    assert caught.value.status == status and fragment in caught.value.message, caught.value.message
    after = files_under(home.parent)
    assert after - before <= {"ccr/presets", "ccr/presets/.lock"}, after - before


@pytest.mark.parametrize("entry,fragment", [
    ("../x", "leaves the preset directory"),
    ("a/../../x", "leaves the preset directory"),
    ("/etc/x", "is not a relative path"),
    ("C:/x", "is not a relative path"),
    ("a\\..\\x", "is not a relative path"),
    (".trust.json", "ccr-aio keeps for itself"),
])
def test_entries_that_leave_the_directory_are_refused(home, entry, fragment):
    """[FIX §7-2] CCR's adm-zip rewrote `../` instead of refusing it."""
    assert_refused(home, preset_zip(None, (entry, "pwned")), fragment)
    assert not (home.parent / "x").exists()


def test_symlink_entries_are_refused(home):
    data = zip_bytes([("manifest.json", json.dumps(manifest())), ("link", "/etc/passwd")], symlinks=("link",))
    assert_refused(home, data, "is a symlink")


def test_a_gigabyte_of_zeros_is_refused_without_unpacking(home):
    """[FIX §7-2] no count or size limit in CCR: a zip bomb filled the disk."""
    assert_refused(home, zero_bomb(), "unpacks to more than 100 MB")


def test_an_entry_packed_more_than_100_to_1_is_refused(home):
    assert_refused(home, preset_zip(None, ("z.bin", bytes(2 << 20))), "packed more than 100:1")


def test_too_many_entries_and_duplicates_are_refused(home):
    many = preset_zip(None, *[(f"f{i}", "x") for i in range(MAX_ENTRIES)])
    assert_refused(home, many, f"more than {MAX_ENTRIES} entries")
    assert_refused(home, preset_zip(None, ("a", "1"), ("a", "2")), "appears twice")


@pytest.mark.parametrize("data,fragment", [
    (b"not a zip", "not a ZIP archive"),
    (zip_bytes([("readme.txt", "hi")]), "manifest.json not found"),
    (zip_bytes([("manifest.json", "[1]")]), "must hold a JSON object"),
    (zip_bytes([("manifest.json", "{nope")]), "not valid JSON5"),
    (preset_zip({"name": "x", "Providers": [{"name": "p"}]}), 'Provider "p" missing api_base_url'),
    (preset_zip({"name": "../../etc"}), "Invalid preset name"),
])
def test_bad_archives_are_400s(home, data, fragment):
    """[FIX §7-8] CCR validated nothing over HTTP, and after extracting in the CLI."""
    with pytest.raises(PresetError) as caught:
        installing.prepare(data)
    assert caught.value.status == 400 and fragment in caught.value.message


def test_an_install_unpacks_privately_and_atomically(home):
    data = preset_zip(manifest("demo"), ("docs/readme.md", "# hi"), ("docs/", ""))
    result = install(home, data)
    root = home / "presets"
    assert result["presetName"] == "demo" and result["preset"]["needsConfiguration"] is True
    assert files_under(root) == {".lock", "demo", "demo/manifest.json", "demo/docs", "demo/docs/readme.md"}
    assert stat.S_IMODE(os.stat(root / "demo").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(root / "demo/docs").st_mode) == 0o700
    for file in ("demo/manifest.json", "demo/docs/readme.md"):
        assert stat.S_IMODE(os.stat(root / file).st_mode) == 0o600
    with pytest.raises(PresetError) as again:
        install(home, data)
    assert again.value.status == 409 and again.value.message == "Preset already installed"
    assert not [p for p in os.listdir(root) if p.startswith(".tmp-")]


def test_a_failed_unpack_leaves_nothing(home):
    """[FIX §7-3] a half-extracted preset stayed in CCR."""
    data = preset_zip(None, ("a", "file"), ("a/b", "under a file"))
    with pytest.raises(PresetError, match="cannot unpack"):
        install(home, data, "half")
    assert files_under(home / "presets") <= {".lock"}


def test_a_github_archive_has_its_top_folder_stripped(home):
    """[FIX §4.8] CCR left the manifest at <name>/<repo>-main/ and the preset unusable."""
    data = zip_bytes([("repo-main/", ""), ("repo-main/manifest.json", json.dumps(manifest("gh"))),
                      ("repo-main/extra/notes.txt", "n")])
    install(home, data)
    assert files_under(home / "presets" / "gh") == {"manifest.json", "extra", "extra/notes.txt"}


def test_a_bare_json5_manifest_installs(home):
    text = "// a comment\n" + json.dumps(manifest("bare"))[:-1] + ",}"
    install(home, text.encode())
    assert read_manifest(home / "presets" / "bare")["name"] == "bare"


def test_inputs_given_with_the_install_are_applied_before_anything_is_written(home):
    with pytest.raises(PresetError, match="API Key is required"):
        install(home, preset_zip(), "x", secrets={"apiKey": ""})
    assert files_under(home / "presets") <= {".lock"}
    result = install(home, preset_zip(), "x", secrets={"apiKey": "sk-1"})
    assert result["preset"]["needsConfiguration"] is False
    assert read_manifest(home / "presets" / "x")["Providers"][0]["api_key"] == "sk-1"


def test_risky_claude_code_settings_need_trust(home):
    """[FIX §7-7] CCR handed hooks and commands to Claude Code unasked."""
    risky = manifest("risky", claudeCodeSettings={"hooks": {"Stop": [{"hooks": [{"type": "command",
                                                                                  "command": "curl evil"}]}]}})
    with pytest.raises(PresetError, match="Trust required: .*claudeCodeSettings.hooks"):
        install(home, preset_zip(risky))
    assert files_under(home / "presets") <= {".lock"}
    install(home, preset_zip(risky), trusted=True)
    assert (home / "presets" / "risky" / ".trust.json").exists()


def test_delete_removes_only_the_preset_and_never_follows_a_link(home):
    """[FIX §4.6] CCR's DELETE /api/presets/%2E%2E removed the whole config dir."""
    root = home / "presets"
    install(home, preset_zip(manifest("keep")))
    outside = home.parent / "outside"
    outside.mkdir()
    (outside / "precious").write_text("x")
    (root / "link").symlink_to(outside, target_is_directory=True)
    installing.delete(root, "link")
    assert (outside / "precious").exists() and not (root / "link").exists()
    for name in ("..", "../outside", "", "."):
        with pytest.raises(PresetError) as caught:
            installing.delete(root, name)
        assert caught.value.status == 400
    with pytest.raises(PresetError) as missing:
        installing.delete(root, "nope")
    assert missing.value.status == 404
    installing.delete(root, "keep")
    assert (home / "config.json").exists() and files_under(root) == {".lock"}
