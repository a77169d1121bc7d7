"""Reading files for a prompt, as an attacker would try it: names that must never be read,
links, globs that climb or sprawl, files swapped between the check and the read, and the size
limits. The core is called directly; `test_delegation.py` drives it through real clients."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from mcp_ollama.errors import InvalidInputError
from mcp_ollama.generation import file_paths, files
from mcp_ollama.generation.file_paths import Roots, allowed_roots, find_files
from mcp_ollama.generation.files import read_files
from mcp_ollama.settings import Settings


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "project"
    directory.mkdir()
    return directory


def make_settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", **values)


def roots_of(settings: Settings, *directories: Path) -> Roots:
    return allowed_roots(settings, list(directories))


def write(root: Path, name: str, data: str | bytes = "text\n") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def refusal(settings: Settings, roots: Roots, *patterns: str) -> str:
    with pytest.raises(InvalidInputError) as raised:
        read_files(list(patterns), roots, settings)
    return str(raised.value)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        (".ENV", ".env"),
        (".env.production", ".env.*"),
        ("certs/server.PEM", "*.pem"),
        ("deploy/site.key", "*.key"),
        ("home/id_rsa.pub", "id_rsa*"),
        ("keys/id_ed25519", "id_ed25519*"),
        ("vendor/lib/.git/HEAD", ".git/"),
    ],
)
def test_the_default_deny_list_refuses_secrets_and_git_internals_whatever_their_case(
    tmp_path: Path, root: Path, name: str, pattern: str
) -> None:
    write(root, name)
    settings = make_settings(tmp_path)
    assert f"matches '{pattern}' in file_deny" in refusal(settings, roots_of(settings, root), name)


def test_a_link_to_a_denied_file_and_a_denied_name_for_a_link_are_both_refused(
    tmp_path: Path, root: Path
) -> None:
    write(root, ".env", "KEY=1\n")
    write(root, "fine.txt")
    (root / "notes.txt").symlink_to(root / ".env")
    (root / "id_rsa").symlink_to(root / "fine.txt")
    settings = make_settings(tmp_path)
    roots = roots_of(settings, root)
    assert "matches '.env'" in refusal(settings, roots, "notes.txt")
    assert "matches 'id_rsa*'" in refusal(settings, roots, "id_rsa")


def test_file_deny_replaces_the_defaults_and_may_name_paths(tmp_path: Path, root: Path) -> None:
    write(root, ".gitignore")
    write(root, "secrets/a.txt")
    write(root, "server.pem", "-----BEGIN CERTIFICATE-----\n")
    settings = make_settings(tmp_path, file_deny=["secrets/*.txt"])
    roots = roots_of(settings, root)
    assert "matches 'secrets/*.txt'" in refusal(settings, roots, "secrets/a.txt")
    read = read_files([".gitignore", "server.pem"], roots, settings).read
    assert [f.path for f in read] == [".gitignore", "server.pem"]


def test_a_glob_never_climbs_out_of_the_roots(tmp_path: Path, root: Path) -> None:
    write(tmp_path, "outside.txt")
    settings = make_settings(tmp_path)
    roots = roots_of(settings, root)
    assert "'..' is not allowed" in refusal(settings, roots, "../*.txt")
    assert "'..' is not allowed" in refusal(settings, roots, "src/../../*.txt")
    assert "is outside the client's roots" in refusal(settings, roots, f"{tmp_path}/*.txt")
    assert "is outside the client's roots" in refusal(settings, roots, "/etc/*")


def test_a_glob_skips_what_may_not_be_read_and_does_not_follow_linked_folders(
    tmp_path: Path, root: Path
) -> None:
    write(root, "a.txt")
    write(root, ".env")
    write(root, ".git/config")
    write(tmp_path, "elsewhere/secret.txt")
    (root / "out.txt").symlink_to(tmp_path / "elsewhere" / "secret.txt")
    (root / "linked").symlink_to(tmp_path / "elsewhere")
    os.mkfifo(root / "pipe.txt")
    settings = make_settings(tmp_path)
    roots = roots_of(settings, root)
    assert [f.shown for f in find_files(["**"], roots, settings)] == ["a.txt"]
    assert [f.shown for f in find_files(["*.txt"], roots, settings)] == ["a.txt"]
    assert "'linked/*' is outside the client's roots" in refusal(settings, roots, "linked/*")
    assert "no readable file matches '.*'" in refusal(settings, roots, ".*")


def test_a_sprawling_glob_stops_at_the_scan_and_match_limits(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(12):
        write(root, f"d{index}/f.txt")
    settings = make_settings(tmp_path, max_files=5)
    roots = roots_of(settings, root)
    assert "matches more than 5 files (MCP_OLLAMA_MAX_FILES)" in refusal(settings, roots, "**")
    names = [f"d{index}/f.txt" for index in range(6)]
    assert "names more than 5 files" in refusal(settings, roots, *names)
    monkeypatch.setattr(file_paths, "MAX_SCANNED", 10)
    assert "looks through more than 10 files and folders" in refusal(
        make_settings(tmp_path), roots, "**/*.md"
    )


@pytest.mark.parametrize("walks", [True, False], ids=["openat", "by-path"])
def test_a_file_swapped_for_a_link_or_a_fifo_after_the_check_is_not_read(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch, walks: bool
) -> None:
    monkeypatch.setattr(files, "_WALKS", walks and files._WALKS)
    write(tmp_path, "secret.txt", "not yours\n")
    settings = make_settings(tmp_path)
    roots = roots_of(settings, root)
    for swap in ("link", "fifo", "folder"):
        target = write(root, "sub/a.txt")
        (found,) = find_files(["sub/a.txt"], roots, settings)
        if swap == "link":
            target.unlink()
            target.symlink_to(tmp_path / "secret.txt")
        elif swap == "fifo":
            target.unlink()
            os.mkfifo(target)
        else:
            (root / "sub").rename(root / "moved")
            (root / "sub").symlink_to(tmp_path)
            write(tmp_path, "a.txt", "not yours either\n")
        with pytest.raises(InvalidInputError, match="changed while it was being read"):
            files._read(found, settings, room=settings.max_files_bytes)
        for leftover in (root / "sub", root / "moved"):
            if leftover.is_symlink() or leftover.is_file():
                leftover.unlink()
            elif leftover.exists():
                (leftover / "a.txt").unlink()
                leftover.rmdir()


def test_sizes_are_capped_per_file_per_image_and_in_total(tmp_path: Path, root: Path) -> None:
    write(root, "big.txt", "x" * 101)
    write(root, "ok.txt", "x" * 60)
    write(root, "ok2.txt", "x" * 60)
    write(root, "photo.gif", b"GIF89a" + b"\x00" * 300)
    settings = make_settings(tmp_path, max_file_bytes=100, max_image_bytes=200, max_files_bytes=100)
    roots = roots_of(settings, root)
    assert "over the limit of 100 B per file (MCP_OLLAMA_MAX_FILE_BYTES)" in refusal(
        settings, roots, "big.txt"
    )
    assert "(MCP_OLLAMA_MAX_IMAGE_BYTES)" in refusal(settings, roots, "photo.gif")
    assert "more than 100 B together (MCP_OLLAMA_MAX_FILES_BYTES)" in refusal(
        settings, roots, "ok.txt", "ok2.txt"
    )


def test_text_must_be_utf8_and_loses_its_byte_order_mark(tmp_path: Path, root: Path) -> None:
    write(root, "bom.txt", b"\xef\xbb\xbfhello\n")
    write(root, "latin1.txt", b"caf\xe9\n")
    settings = make_settings(tmp_path)
    roots = roots_of(settings, root)
    assert read_files(["bom.txt"], roots, settings).blocks == ["File: bom.txt\n```txt\nhello\n```"]
    assert "is binary (not UTF-8 text" in refusal(settings, roots, "latin1.txt")


def test_stdio_prefers_the_client_roots_and_a_network_server_keeps_them_inside_file_roots(
    tmp_path: Path, root: Path
) -> None:
    inner = root / "inner"
    inner.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    local = make_settings(tmp_path, file_roots=[str(root)])
    assert allowed_roots(local, [other]).roots[0].real == other
    assert allowed_roots(local, []).origin == "file_roots"
    network = make_settings(tmp_path, file_roots=[str(root)], transport="http")
    assert [r.real for r in allowed_roots(network, [inner, other]).roots] == [inner]
    assert [r.real for r in allowed_roots(network, [tmp_path]).roots] == [root]
    with pytest.raises(InvalidInputError, match="none of the client's roots"):
        allowed_roots(network, [other])
    with pytest.raises(InvalidInputError, match="file_roots setting, which is empty"):
        allowed_roots(make_settings(tmp_path, transport="sse"), [root])


def test_file_roots_must_be_absolute(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file_roots must be absolute"):
        make_settings(tmp_path, file_roots="relative/dir")
    assert make_settings(tmp_path, file_roots="~/a, /b").file_roots == [
        str(Path("~/a").expanduser()),
        "/b",
    ]
