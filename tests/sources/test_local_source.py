"""LocalSource: listing, bounded reads, git revisions, Hub cache layouts and base lookup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modeltrust.errors import SourceError
from modeltrust.sources import MissingFileError, open_source, parse_repo_ref
from modeltrust.sources.hub import HubSource
from modeltrust.sources.local import LocalSource
from tests.hubserver import HubServer

SHA_A = "a" * 40
SHA_B = "b" * 40


def make(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
    return root


def test_lists_files_sorted_and_skips_git(tmp_path: Path) -> None:
    root = make(
        tmp_path / "m",
        {"b.txt": "b", "a/README.md": "x", ".git/HEAD": SHA_A, ".cache/hf/x": "y"},
    )
    source = LocalSource(root)
    assert [f.path for f in source.list_files()] == ["a/README.md", "b.txt"]
    assert source.file("b.txt").size == 1
    assert source.kind == "local" and source.repo_id is None and source.name == "m"


def test_reads_are_bounded_and_confined(tmp_path: Path) -> None:
    root = make(tmp_path / "m", {"w.bin": bytes(range(100))})
    (tmp_path / "outside.txt").write_text("secret")
    source = LocalSource(root)
    assert source.read_range("w.bin", 10, 5) == bytes(range(10, 15))
    assert source.read_bytes("w.bin", 3) == bytes([0, 1, 2])
    assert source.read_range("w.bin", 200, 5) == b""
    with pytest.raises(MissingFileError):
        source.read_bytes("../outside.txt")
    with pytest.raises(MissingFileError):
        source.read_bytes(str(tmp_path / "outside.txt"))


def test_text_drops_a_bom_and_replaces_bad_bytes(tmp_path: Path) -> None:
    root = make(tmp_path / "m", {"README.md": b"\xef\xbb\xbf# hi \xff"})
    assert LocalSource(root).read_text("README.md") == "# hi \ufffd"


def test_missing_folder_or_a_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        LocalSource(tmp_path / "nope")
    (tmp_path / "f").write_text("x")
    with pytest.raises(SourceError, match="is not a folder"):
        LocalSource(tmp_path / "f")


@pytest.mark.parametrize("layout", ["loose", "packed", "detached", "worktree"])
def test_git_checkout_records_head(tmp_path: Path, layout: str) -> None:
    root = make(tmp_path / "m", {"README.md": "x"})
    git = root / ".git"
    if layout == "loose":
        make(git, {"HEAD": "ref: refs/heads/main\n", "refs/heads/main": SHA_A + "\n"})
    elif layout == "packed":
        make(
            git,
            {"HEAD": "ref: refs/heads/main\n", "packed-refs": f"# pack\n{SHA_A} refs/heads/main\n"},
        )
    elif layout == "detached":
        make(git, {"HEAD": SHA_A + "\n"})
    else:
        common = tmp_path / "main.git"
        make(common, {"refs/heads/topic": SHA_A + "\n"})
        wt = common / "worktrees" / "m"
        make(wt, {"HEAD": "ref: refs/heads/topic\n", "commondir": "../..\n"})
        (root / ".git").write_text(f"gitdir: {wt}\n")
    assert LocalSource(root).revision == SHA_A


def test_not_a_git_checkout_has_no_revision(tmp_path: Path) -> None:
    assert LocalSource(make(tmp_path / "m", {"README.md": "x"})).revision is None


def test_hub_cache_snapshot_is_recognised(tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    snap = make(cache / "models--acme--ft" / "snapshots" / SHA_A, {"README.md": "x"})
    base = make(cache / "models--meta--base" / "snapshots" / SHA_B, {"README.md": "b"})
    (cache / "models--meta--base" / "refs").mkdir()
    (cache / "models--meta--base" / "refs" / "main").write_text(SHA_B)
    source = LocalSource(snap)
    assert (source.repo_id, source.revision, source.name) == ("acme/ft", SHA_A, "ft")
    related = source.open_related("meta/base")
    assert isinstance(related, LocalSource)
    assert related.root == base.resolve() and related.revision == SHA_B
    assert related.repo_id == "meta/base"


def test_cache_snapshot_files_may_be_links_to_blobs(tmp_path: Path) -> None:
    cache = tmp_path / "hub" / "models--acme--ft"
    blob = make(cache / "blobs", {"abc": "---\nlicense: mit\n---\n"}) / "abc"
    snap = cache / "snapshots" / SHA_A
    snap.mkdir(parents=True)
    (snap / "README.md").symlink_to(os.path.relpath(blob, snap))
    assert "license: mit" in LocalSource(snap).read_text("README.md")


@pytest.mark.parametrize("layout", ["meta/base", "meta--base"])
def test_bases_are_found_next_to_the_model(tmp_path: Path, layout: str) -> None:
    model = make(tmp_path / "models" / "acme" / "ft", {"README.md": "x"})
    make(tmp_path / "models" / layout, {"README.md": "b"})
    if layout == "meta--base":  # flat layout: models/acme--ft next to models/meta--base
        model = make(tmp_path / "models" / "acme--ft", {"README.md": "x"})
    base = LocalSource(model).open_related("meta/base")
    assert base.read_text("README.md") == "b" and base.repo_id == "meta/base"


def test_search_paths_and_not_found_message(tmp_path: Path) -> None:
    model = make(tmp_path / "a" / "model", {"README.md": "x"})
    store = tmp_path / "store"
    make(store / "meta" / "base", {"README.md": "b"})
    with pytest.raises(SourceError, match="Base model 'meta/base' was not found next to"):
        LocalSource(model).open_related("meta/base")
    found = LocalSource(model, search_paths=(store,)).open_related("meta/base")
    assert found.read_text("README.md") == "b"


def test_every_file_lists_skipped_folders_and_has_no_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For a folder whose files were chosen (the governed hub's copy of a repo), nothing is left
    out: a file left out of the listing would go unscanned."""
    from modeltrust.sources import local

    files = {"a.txt": "a", ".cache/m.pkl": "p", "__pycache__/x.pyc": "c", "node_modules/n": "n"}
    root = make(tmp_path / "m", files)
    assert [f.path for f in LocalSource(root).list_files()] == ["a.txt"]
    assert {f.path for f in LocalSource(root, every_file=True).list_files()} == set(files)
    monkeypatch.setattr(local, "MAX_FILES", 2)
    assert len(LocalSource(root, every_file=True).list_files()) == 4
    assert len(LocalSource(root, every_file=False).list_files()) == 1


def test_nearby_false_searches_only_the_search_paths(tmp_path: Path) -> None:
    """A scratch folder's surroundings are not the user's models: a card naming 'model/sub'
    must not find the repo's own sub-folder next to it."""
    model = make(tmp_path / "scratch" / "model", {"README.md": "x", "sub/README.md": "own"})
    assert LocalSource(model).open_related("model/sub").read_text("README.md") == "own"
    with pytest.raises(SourceError, match="was not found"):
        LocalSource(model, nearby=False).open_related("model/sub")
    store = make(tmp_path / "bases" / "model" / "sub", {"README.md": "base"}).parent.parent
    found = LocalSource(model, nearby=False, search_paths=(store,)).open_related("model/sub")
    assert found.read_text("README.md") == "base"


@pytest.mark.parametrize("bad", ["../../etc", "a/../b", "/abs/path", "meta--x/y", "x"])
def test_hostile_base_names_are_never_looked_up(tmp_path: Path, bad: str) -> None:
    model = make(tmp_path / "m" / "model", {"README.md": "x"})
    with pytest.raises(SourceError):
        LocalSource(model).open_related(bad)


def test_open_source_prefers_an_existing_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(tmp_path / "acme" / "model", {"README.md": "x"})
    monkeypatch.chdir(tmp_path)
    source = open_source("acme/model")
    assert isinstance(source, LocalSource) and source.ref == "acme/model"
    assert isinstance(open_source("./acme/model"), LocalSource)


def test_open_source_goes_to_the_hub_otherwise(
    hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.add_repo("acme/model", {"README.md": "x"})
    make(tmp_path / "acme" / "model", {"README.md": "local"})
    monkeypatch.chdir(tmp_path)
    assert isinstance(open_source("hf:acme/model"), HubSource)
    monkeypatch.chdir(tmp_path / "acme")
    assert isinstance(open_source("acme/model"), HubSource)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("org/name", ("org/name", None)),
        ("org/name@main", ("org/name", "main")),
        ("org/name@refs/pr/3", ("org/name", "refs/pr/3")),
        (f"org/name@{SHA_A}", ("org/name", SHA_A)),
    ],
)
def test_parse_repo_ref(text: str, expected: tuple[str, str | None]) -> None:
    assert parse_repo_ref(text) == expected


@pytest.mark.parametrize("text", ["name", "org/name@", "a/b/c", "org/na..me", "-org/name", ""])
def test_bad_targets_are_usage_errors(text: str) -> None:
    with pytest.raises(SourceError, match="neither an existing folder nor a Hub repo id"):
        parse_repo_ref(text)


def test_undecodable_names_are_listed_escaped_and_read_by_their_real_name(tmp_path: Path) -> None:
    (tmp_path / os.fsdecode(b"caf\xe9.bin")).write_bytes(b"real")
    (tmp_path / "caf\\xe9.bin").write_bytes(b"decoy")  # what the first one shows as, escaped
    source = LocalSource(tmp_path)
    listed = [f.path for f in source.list_files()]
    assert len(listed) == 1 and listed[0] == "caf\\xe9.bin"
    (collision,) = source.unreadable()
    assert collision.path == "caf\\xe9.bin" and "another file" in collision.detail
    # Sorted, the decoy comes first; the real file is then reported (fail closed), not hidden.
    assert source.read_bytes("caf\\xe9.bin") == b"decoy"


def test_an_undecodable_name_alone_is_read_by_its_real_name(tmp_path: Path) -> None:
    (tmp_path / os.fsdecode(b"caf\xe9.bin")).write_bytes(b"real")
    source = LocalSource(tmp_path)
    assert source.read_bytes("caf\\xe9.bin") == b"real"
    assert source.local_path("caf\\xe9.bin").read_bytes() == b"real"
