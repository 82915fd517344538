"""newsbench.publish against fake HfApi objects: no network call can happen (HF_HUB_OFFLINE=1)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import traceback
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx2
import huggingface_hub
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, RepoFile, RepoFolder
from huggingface_hub.utils import HfHubHTTPError

from newsbench import publish as pub
from newsbench.publish import (
    PublishError,
    RemoteState,
    human_size,
    plan,
    publish,
    remote_from_paths,
    render_plan,
    resolve_token,
)

FAKE_TOKEN = "hf_FAKEtok3nDoNotLeakAbCdEf0123456789"
REPO = "newsbench-org/newsbench"
HEAD = "a" * 40
NEW_COMMIT = "b" * 40
STALE = "data/old_table/test-00000-of-00001.parquet"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any real Hub call fails at once, and no saved or ambient token is ever picked up."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)


@pytest.fixture
def folder(built: Path, tmp_path: Path) -> Path:
    """A private copy of the built dataset (tests may damage it)."""
    dest = tmp_path / "newsbench"
    shutil.copytree(built, dest)
    return dest


def local_listing(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_file(path: str, data_or_sha: bytes | str, size: int = 100) -> RepoFile:
    sha = data_or_sha if isinstance(data_or_sha, str) else hashlib.sha256(data_or_sha).hexdigest()
    return RepoFile(
        path=path,
        size=size,
        oid="c" * 40,
        lfs={"size": size, "oid": sha, "pointerSize": 134},
    )


def git_file(path: str, data_or_blob: bytes | str) -> RepoFile:
    blob = data_or_blob if isinstance(data_or_blob, str) else git_blob_id(data_or_blob)
    return RepoFile(path=path, size=10, oid=blob)


class FakeApi:
    """Records every call; answers like the Hub for one repo at commit HEAD."""

    def __init__(
        self,
        tree: Iterable[Any] = (),
        tags: Iterable[str] = (),
        fail_commit: BaseException | None = None,
        fail_tag: BaseException | None = None,
        existing_private: bool | None = None,
    ) -> None:
        self.tree = list(tree)
        self.tags = list(tags)
        self.fail_commit = fail_commit
        self.fail_tag = fail_tag
        self.private = existing_private  # None: the repo does not exist before create_repo
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def _record(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs))

    @property
    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def call(self, name: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
        (found,) = [(a, k) for n, a, k in self.calls if n == name]
        return found

    def create_repo(self, repo_id: str, **kwargs: Any) -> str:
        self._record("create_repo", repo_id, **kwargs)
        if self.private is None:
            self.private = bool(kwargs.get("private"))
        return f"https://huggingface.co/datasets/{repo_id}"

    def repo_info(self, repo_id: str, **kwargs: Any) -> SimpleNamespace:
        self._record("repo_info", repo_id, **kwargs)
        return SimpleNamespace(sha=HEAD, private=self.private)

    def list_repo_tree(self, repo_id: str, **kwargs: Any) -> list[Any]:
        self._record("list_repo_tree", repo_id, **kwargs)
        return list(self.tree)

    def list_repo_refs(self, repo_id: str, **kwargs: Any) -> SimpleNamespace:
        self._record("list_repo_refs", repo_id, **kwargs)
        return SimpleNamespace(tags=[SimpleNamespace(name=t) for t in self.tags], branches=[])

    def create_commit(self, repo_id: str, operations: Any, **kwargs: Any) -> SimpleNamespace:
        self._record("create_commit", repo_id, list(operations), **kwargs)
        if self.fail_commit is not None:
            raise self.fail_commit
        return SimpleNamespace(
            oid=NEW_COMMIT,
            commit_url=f"https://huggingface.co/datasets/{repo_id}/commit/{NEW_COMMIT}",
        )

    def create_tag(self, repo_id: str, **kwargs: Any) -> None:
        self._record("create_tag", repo_id, **kwargs)
        if self.fail_tag is not None:
            raise self.fail_tag


class NoCallApi:
    """Fails the test on any attribute access: a dry run must not touch the API at all."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"dry run used the API: HfApi.{name}")


def mixed_remote(folder: Path) -> list[Any]:
    """README unchanged (git blob id), manifest changed, articles unchanged (LFS sha256),
    claims changed, the rest missing; a stale table and .gitattributes only on the remote."""
    local = local_listing(folder)
    return [
        git_file(".gitattributes", b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"),
        git_file("README.md", local["README.md"]),
        git_file("build_manifest.json", "0" * 40),
        RepoFolder(path="data", oid="d" * 40),
        lfs_file(
            "data/articles/test-00000-of-00001.parquet",
            local["data/articles/test-00000-of-00001.parquet"],
        ),
        lfs_file("data/claims/test-00000-of-00001.parquet", "f" * 64),
        lfs_file(STALE, "e" * 64),
    ]


# --- the plan --------------------------------------------------------------------------------


def test_plan_against_fake_remote_listing(folder: Path) -> None:
    api = FakeApi(tree=mixed_remote(folder))
    p = plan(folder, REPO, api, "v1.0.0")  # type: ignore[arg-type]
    actions = {f.path: f.action for f in p.files}
    local = local_listing(folder)
    assert set(actions) == set(local)
    assert actions["README.md"] == "unchanged"
    assert actions["data/articles/test-00000-of-00001.parquet"] == "unchanged"
    assert actions["build_manifest.json"] == "change"
    assert actions["data/claims/test-00000-of-00001.parquet"] == "change"
    others = set(local) - {
        "README.md",
        "build_manifest.json",
        "data/articles/test-00000-of-00001.parquet",
        "data/claims/test-00000-of-00001.parquet",
    }
    assert others and all(actions[path] == "add" for path in others)
    assert p.deletions == (STALE,)
    assert p.kept == (".gitattributes",)
    assert p.parent_commit == HEAD
    for f in p.files:
        assert f.size == len(local[f.path])
        assert f.sha256 == hashlib.sha256(local[f.path]).hexdigest()
    assert api.names == ["repo_info", "list_repo_tree", "list_repo_refs"]
    assert api.call("list_repo_tree")[1]["revision"] == HEAD  # the listing is of the planned head


def test_plan_with_given_remote_makes_no_call_and_names_only_count_as_changed(
    folder: Path,
) -> None:
    remote = remote_from_paths(["README.md", ".gitattributes", STALE], head=HEAD)
    p = plan(folder, REPO, NoCallApi(), None, remote=remote)  # type: ignore[arg-type]
    actions = {f.path: f.action for f in p.files}
    assert actions["README.md"] == "change"  # no hash to prove it equal
    assert p.deletions == (STALE,)
    assert p.kept == (".gitattributes",)


def test_plan_without_api_or_remote_adds_everything(folder: Path) -> None:
    p = plan(folder, REPO, None, None)
    assert p.files and all(f.action == "add" for f in p.files)
    assert p.deletions == () and p.parent_commit is None and not p.remote_known


def test_render_plan_is_a_readable_table(folder: Path) -> None:
    p = plan(folder, REPO, FakeApi(tree=mixed_remote(folder)), "v1.0.0")  # type: ignore[arg-type]
    text = render_plan(p)
    assert "action" in text and "path" in text and "size" in text
    assert re.search(rf"^  delete +{re.escape(STALE)}$", text, re.M)
    assert re.search(r"^  keep +\.gitattributes$", text, re.M)
    assert re.search(r"^  unchanged +README\.md +[\d.]+ KiB +[0-9a-f]{12}$", text, re.M)
    assert "KiB" in text
    assert human_size(0) == "0 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(3 * 1024**2) == "3.0 MiB"


# --- dry run ---------------------------------------------------------------------------------


def test_dry_run_makes_no_api_call_and_resolves_no_token(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("dry run must not create an HfApi or look up a token")

    monkeypatch.setattr(pub, "HfApi", forbidden)
    monkeypatch.setattr(pub, "resolve_token", forbidden)
    p = publish(folder, REPO, revision="v0.1.0", dry_run=True, api=NoCallApi())  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert p.dry_run and p.commit_oid is None and not p.tagged
    assert all(f.action == "add" for f in p.files)
    assert "DRY RUN" in out and "README.md" in out and "to add" in out


def test_dry_run_against_a_known_listing(folder: Path) -> None:
    remote = RemoteState(head=HEAD, files=(pub.RemoteFile(STALE),))
    p = publish(folder, REPO, dry_run=True, api=NoCallApi(), remote=remote, echo=False)  # type: ignore[arg-type]
    assert p.deletions == (STALE,)


# --- real publish against a fake API ---------------------------------------------------------


def test_publish_call_sequence(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    api = FakeApi(tree=mixed_remote(folder))
    p = publish(folder, REPO, revision="v0.1.0", api=api, token=FAKE_TOKEN)  # type: ignore[arg-type]

    mutating = [n for n in api.names if n.startswith("create_")]
    assert mutating == ["create_repo", "create_commit", "create_tag"]
    assert api.names == [
        "create_repo",
        "repo_info",
        "list_repo_tree",
        "list_repo_refs",
        "create_commit",
        "create_tag",
    ]
    args, kwargs = api.call("create_repo")
    assert args == (REPO,)
    assert kwargs["repo_type"] == "dataset" and kwargs["exist_ok"] is True
    assert kwargs["private"] is False

    args, kwargs = api.call("create_commit")
    repo_id, operations = args
    assert repo_id == REPO
    adds = {op.path_in_repo: op for op in operations if isinstance(op, CommitOperationAdd)}
    deletes = [op.path_in_repo for op in operations if isinstance(op, CommitOperationDelete)]
    assert set(adds) == set(local_listing(folder))  # every local file, unchanged ones too
    for path, op in adds.items():
        assert isinstance(op.path_or_fileobj, str | Path)
        assert Path(op.path_or_fileobj) == folder / path
    assert deletes == [STALE]  # never .gitattributes
    assert kwargs["parent_commit"] == HEAD
    assert kwargs["repo_type"] == "dataset" and kwargs["revision"] == "main"
    counts = json.loads((folder / "build_manifest.json").read_text())["row_counts"]
    assert "v0.1.0" in kwargs["commit_message"]
    for name, n in counts.items():
        assert f"{name} {n}" in kwargs["commit_message"]

    _, kwargs = api.call("create_tag")
    assert kwargs["tag"] == "v0.1.0" and kwargs["repo_type"] == "dataset"
    assert kwargs["revision"] == NEW_COMMIT  # tags exactly the commit just made

    assert all(k.get("token") == FAKE_TOKEN for _, _, k in api.calls)
    assert p.commit_oid == NEW_COMMIT and p.tagged
    assert "published" in capsys.readouterr().out


def test_publish_without_revision_makes_no_tag(folder: Path) -> None:
    api = FakeApi()
    p = publish(folder, REPO, api=api, token=FAKE_TOKEN, echo=False, private=True)  # type: ignore[arg-type]
    assert [n for n in api.names if n.startswith("create_")] == ["create_repo", "create_commit"]
    assert api.call("create_repo")[1]["private"] is True
    assert "list_repo_refs" in api.names
    assert not p.tagged


def test_publish_up_to_date_repo_only_tags_the_planned_head(folder: Path) -> None:
    local = local_listing(folder)
    tree = [
        lfs_file(path, data) if path.endswith(".parquet") else git_file(path, data)
        for path, data in local.items()
    ]
    api = FakeApi(tree=tree)
    p = publish(folder, REPO, revision="v0.1.0", api=api, token=FAKE_TOKEN, echo=False)  # type: ignore[arg-type]
    assert "create_commit" not in api.names
    assert api.call("create_tag")[1]["revision"] == HEAD
    assert not p.has_changes and p.tagged


def test_existing_tag_is_refused_before_committing(folder: Path) -> None:
    api = FakeApi(tags=["v0.1.0"])
    with pytest.raises(PublishError, match=r"tag v0\.1\.0 already exists"):
        publish(folder, REPO, revision="v0.1.0", api=api, token=FAKE_TOKEN, echo=False)  # type: ignore[arg-type]
    assert "create_commit" not in api.names and "create_tag" not in api.names


def test_private_publish_into_an_existing_public_repo_is_refused(folder: Path) -> None:
    api = FakeApi(existing_private=False)
    with pytest.raises(PublishError, match="is public"):
        publish(folder, REPO, private=True, api=api, token=FAKE_TOKEN, echo=False)  # type: ignore[arg-type]
    assert "create_commit" not in api.names


def test_tag_must_match_the_croissant_version(folder: Path) -> None:
    api = FakeApi()  # the build wrote croissant.json with version 0.1.0
    with pytest.raises(PublishError, match=re.escape("croissant.json says version '0.1.0'")):
        publish(folder, REPO, revision="v0.2.0", dry_run=True)
    p = publish(folder, REPO, revision="v0.1.0", api=api, token=FAKE_TOKEN, echo=False)  # type: ignore[arg-type]
    assert p.tagged
    assert "croissant.json" in {f.path for f in p.files}


def test_failed_tag_says_the_commit_is_published(folder: Path) -> None:
    api = FakeApi(fail_tag=RuntimeError("tag service down"))
    with pytest.raises(PublishError, match="published but not tagged") as err:
        publish(folder, REPO, revision="v0.1.0", api=api, token=FAKE_TOKEN, echo=False)  # type: ignore[arg-type]
    assert NEW_COMMIT in str(err.value)
    assert err.value.__cause__ is None


@pytest.mark.parametrize("revision", ["1.2.3", "v1.2", "v01.2.3", "v1.2.3-rc1", "latest"])
def test_invalid_revision_is_refused(folder: Path, revision: str) -> None:
    api = FakeApi()
    with pytest.raises(PublishError, match=r"vX\.Y\.Z"):
        publish(folder, REPO, revision=revision, api=api, token=FAKE_TOKEN)  # type: ignore[arg-type]
    assert api.calls == []


def test_invalid_repo_id_is_refused(folder: Path) -> None:
    api = FakeApi()
    with pytest.raises(PublishError, match="ORG/NAME"):
        publish(folder, "newsbench", api=api, token=FAKE_TOKEN)  # type: ignore[arg-type]
    assert api.calls == []


@pytest.mark.parametrize("dry_run", [False, True])
def test_invalid_folder_is_refused(folder: Path, dry_run: bool) -> None:
    parquet = folder / "data" / "claims" / "test-00000-of-00001.parquet"
    parquet.write_bytes(parquet.read_bytes()[:100])  # truncated: unreadable Parquet
    api = FakeApi()
    with pytest.raises(PublishError, match="refusing to publish") as err:
        publish(folder, REPO, dry_run=dry_run, api=api, token=FAKE_TOKEN)  # type: ignore[arg-type]
    assert "data/claims/test-00000-of-00001.parquet" in str(err.value)
    assert api.calls == []


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="refusing to publish"):
        publish(tmp_path / "nope", REPO, dry_run=True)


def test_missing_token_is_a_clear_error(folder: Path) -> None:
    api = FakeApi()
    with pytest.raises(PublishError) as err:
        publish(folder, REPO, api=api)  # type: ignore[arg-type]
    message = str(err.value)
    assert "huggingface-cli login" in message and "HF_TOKEN" in message
    assert api.calls == []


def test_token_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_saved")
    assert resolve_token() == "hf_saved"
    monkeypatch.setenv("HF_TOKEN", "hf_env")
    assert resolve_token() == "hf_env"
    assert resolve_token("hf_arg") == "hf_arg"


def test_concurrent_push_fails_with_a_hint(folder: Path) -> None:
    response = httpx2.Response(
        412,
        request=httpx2.Request("POST", f"https://huggingface.co/api/datasets/{REPO}/commit/main"),
    )
    api = FakeApi(fail_commit=HfHubHTTPError("412 Precondition Failed", response=response))
    with pytest.raises(PublishError, match="changed since the plan"):
        publish(folder, REPO, revision="v0.1.0", api=api, token=FAKE_TOKEN, echo=False)  # type: ignore[arg-type]
    assert "create_tag" not in api.names


# --- the token never leaks -------------------------------------------------------------------


def _assert_no_token(*texts: str) -> None:
    for text in texts:
        assert FAKE_TOKEN not in text
        assert FAKE_TOKEN[3:] not in text  # not even without its prefix


@pytest.mark.parametrize("via_env", [False, True])
def test_token_never_appears_in_output_logs_plan_errors_or_folder(
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    via_env: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = None
    if via_env:
        monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    else:
        token = FAKE_TOKEN
    before = local_listing(folder)

    api = FakeApi(tree=mixed_remote(folder))
    ok = publish(folder, REPO, revision="v0.1.0", api=api, token=token)  # type: ignore[arg-type]
    assert all(k.get("token") == FAKE_TOKEN for _, _, k in api.calls)  # it was used…

    # …and a failing call whose error message and request carry the token
    request = httpx2.Request(
        "POST",
        f"https://huggingface.co/api/datasets/{REPO}/commit/main",
        headers={"authorization": f"Bearer {FAKE_TOKEN}"},
    )
    failing = FakeApi(
        fail_commit=HfHubHTTPError(
            f"401 Unauthorized: invalid token {FAKE_TOKEN}",
            response=httpx2.Response(401, request=request),
        )
    )
    with pytest.raises(PublishError) as err:
        publish(folder, REPO, revision="v0.1.0", api=failing, token=token)  # type: ignore[arg-type]
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert "401" in str(err.value)

    captured = capsys.readouterr()
    _assert_no_token(
        captured.out,
        captured.err,
        caplog.text,
        *(r.getMessage() for r in caplog.records),
        repr(ok),
        str(ok),
        render_plan(ok),
        str(err.value),
        repr(err.value),
        "".join(traceback.format_exception(err.value)),
    )
    after = local_listing(folder)
    assert after == before  # publishing writes nothing into the folder
    for data in after.values():
        assert FAKE_TOKEN.encode() not in data
