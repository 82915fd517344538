"""Publish a built dataset folder to a Hugging Face dataset repository, as one atomic commit.

`plan` compares the local folder with the remote repo (added / changed / unchanged files, and
remote files the build no longer produces). `publish` refuses a folder that fails
`check_output`, then runs create_repo → one create_commit → create_tag. The commit carries
`parent_commit` = the remote head the plan was made against, so a concurrent push makes it fail
instead of being silently overwritten; `upload_folder` is not used because it may split a large
folder into several commits. A dry run makes no network call at all.

The token is only ever passed to huggingface_hub: it is never printed, logged, stored in the
plan or the folder, and it is masked in every error message this module raises.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import huggingface_hub
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.utils import RepositoryNotFoundError

from newsbench.check import check_output

log = logging.getLogger(__name__)

REPO_TYPE = "dataset"
BRANCH = "main"
KEEP_REMOTE = frozenset({".gitattributes"})  # created by the Hub; never deleted
VERSION_TAG = re.compile(r"v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
_TOKEN_LIKE = re.compile(r"hf_[A-Za-z0-9]{8,}")
LOGIN_HINT = "run `hf auth login` (formerly `huggingface-cli login`) or set HF_TOKEN"

Action = Literal["add", "change", "unchanged"]


class PublishError(RuntimeError):
    """A publish was refused or failed; the message never contains the token."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of the remote repo: LFS files carry sha256, every file its git blob id."""

    path: str
    size: int | None = None
    sha256: str | None = None
    blob_id: str | None = None


@dataclass(frozen=True)
class RemoteState:
    """The remote repo at one commit (`head`); `exists=False` for a repo not created yet."""

    head: str | None
    files: tuple[RemoteFile, ...] = ()
    tags: tuple[str, ...] = ()
    exists: bool = True
    private: bool | None = None  # None when unknown


@dataclass(frozen=True)
class FileChange:
    path: str  # path in the repo (POSIX)
    size: int
    sha256: str
    action: Action


@dataclass(frozen=True)
class PublishPlan:
    """What a publish would do (or did: `commit_oid`, `commit_url`, `tagged` after publish)."""

    repo_id: str
    revision: str | None
    folder: Path
    files: tuple[FileChange, ...]
    deletions: tuple[str, ...]
    kept: tuple[str, ...]
    parent_commit: str | None
    remote_known: bool
    remote_tags: tuple[str, ...]
    remote_private: bool | None
    commit_message: str
    commit_description: str
    row_counts: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    commit_oid: str | None = None
    commit_url: str | None = None
    tagged: bool = False

    def count(self, action: Action) -> int:
        return sum(1 for f in self.files if f.action == action)

    @property
    def has_changes(self) -> bool:
        return bool(self.deletions) or any(f.action != "unchanged" for f in self.files)


# --- token --------------------------------------------------------------------------------


def resolve_token(token: str | None = None) -> str | None:
    """The token argument, else $HF_TOKEN, else huggingface_hub's saved login."""
    if token:
        return token
    env = os.environ.get("HF_TOKEN")
    if env:
        return env
    return huggingface_hub.get_token() or None


def mask(text: str, token: str | None) -> str:
    """Hide the token (and anything shaped like a Hub token) in a message."""
    if token:
        text = text.replace(token, "***")
    return _TOKEN_LIKE.sub("hf_***", text)


def _api_error(step: str, exc: BaseException, token: str | None) -> PublishError:
    """Wrap a huggingface_hub failure; raised `from None` so the unmasked original never shows."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    message = f"{step} failed: {type(exc).__name__}: {mask(str(exc), token)}"
    if status in (409, 412) and step == "create_commit":
        message += (
            "\nThe remote repo changed since the plan was made (someone else pushed); nothing "
            "was overwritten. Run publish again to re-plan against the new head."
        )
    return PublishError(message)


# --- local and remote file listings --------------------------------------------------------


def _digests(path: Path) -> tuple[str, str]:
    """(sha256, git blob sha1): LFS files are compared by sha256, regular ones by blob id."""
    size = path.stat().st_size
    sha256 = hashlib.sha256()
    blob = hashlib.sha1(f"blob {size}\0".encode())  # git's object id, not a security use
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha256.update(block)
            blob.update(block)
    return sha256.hexdigest(), blob.hexdigest()


def local_files(folder: Path) -> list[Path]:
    """Every regular file of the folder, sorted; hidden files and folders are not published."""
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_symlink():
            raise PublishError(f"{rel.as_posix()}: symbolic links are not published; rebuild")
        if path.is_file():
            out.append(path)
    return out


def fetch_remote(api: HfApi, repo_id: str, token: str | None = None) -> RemoteState:
    """The remote head, its files with hashes, and its tags (three read-only API calls)."""
    try:
        info = api.repo_info(repo_id, repo_type=REPO_TYPE, revision=BRANCH, token=token)
    except RepositoryNotFoundError:
        return RemoteState(head=None, exists=False)
    except Exception as exc:
        raise _api_error("repo_info", exc, token) from None
    head = getattr(info, "sha", None)
    try:
        tree = api.list_repo_tree(
            repo_id, recursive=True, revision=head or BRANCH, repo_type=REPO_TYPE, token=token
        )
        files = []
        for item in tree:
            if not hasattr(item, "blob_id"):  # a RepoFolder
                continue
            lfs = getattr(item, "lfs", None)
            files.append(
                RemoteFile(
                    path=item.path,
                    size=getattr(item, "size", None),
                    sha256=getattr(lfs, "sha256", None) if lfs else None,
                    blob_id=item.blob_id,
                )
            )
        refs = api.list_repo_refs(repo_id, repo_type=REPO_TYPE, token=token)
    except Exception as exc:
        raise _api_error("listing the remote repo", exc, token) from None
    tags = tuple(sorted(t.name for t in getattr(refs, "tags", []) or []))
    private = getattr(info, "private", None)
    return RemoteState(
        head=head,
        files=tuple(sorted(files, key=lambda f: f.path)),
        tags=tags,
        private=private if isinstance(private, bool) else None,
    )


def remote_from_paths(paths: Iterable[str], head: str | None = None) -> RemoteState:
    """A remote listing with names only (e.g. list_repo_files): such files count as changed."""
    return RemoteState(head=head, files=tuple(RemoteFile(p) for p in sorted(paths)))


# --- the plan -------------------------------------------------------------------------------


def validate_revision(revision: str | None) -> None:
    if revision is not None and not VERSION_TAG.fullmatch(revision):
        raise PublishError(f"revision must look like vX.Y.Z (e.g. v1.2.0), got {revision!r}")


def validate_repo_id(repo_id: str) -> None:
    if not REPO_ID.fullmatch(repo_id) or ".." in repo_id or repo_id.endswith((".git", ".")):
        raise PublishError(f"repo id must be ORG/NAME, got {repo_id!r}")


def _read_row_counts(folder: Path) -> tuple[dict[str, int], str | None]:
    path = folder / "build_manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, None
    counts = {str(k): int(v) for k, v in sorted((manifest.get("row_counts") or {}).items())}
    return counts, manifest.get("schema_version")


def commit_text(
    revision: str | None, counts: dict[str, int], schema_version: str | None
) -> tuple[str, str]:
    """Commit title naming the version and the row counts; description with the schema."""
    rows = ", ".join(f"{name} {n}" for name, n in counts.items()) or "no row counts"
    title = f"newsbench {revision or '(untagged build)'}: {rows}"
    description = (
        f"Published by `newsbench publish`. Schema version {schema_version or 'unknown'}. "
        "File sha256 sums are in build_manifest.json."
    )
    return title, description


def _action(sha256: str, blob_id: str, remote: RemoteFile | None) -> Action:
    if remote is None:
        return "add"
    if remote.sha256:
        return "unchanged" if remote.sha256 == sha256 else "change"
    if remote.blob_id:
        return "unchanged" if remote.blob_id == blob_id else "change"
    return "change"  # listed without a hash: cannot prove it is equal


def plan(
    folder: Path,
    repo_id: str,
    api: HfApi | None,
    revision: str | None,
    *,
    remote: RemoteState | None = None,
    token: str | None = None,
) -> PublishPlan:
    """Compare the folder with the remote repo.

    With `remote` given, no call is made; else with `api` the remote is fetched; with neither
    (a dry run) every file is an "add" and nothing is deleted.
    """
    folder = Path(folder)
    validate_repo_id(repo_id)
    validate_revision(revision)
    if remote is None and api is not None:
        remote = fetch_remote(api, repo_id, token)
    by_path = {f.path: f for f in remote.files} if remote else {}
    changes = []
    for path in local_files(folder):
        rel = path.relative_to(folder).as_posix()
        sha256, blob_id = _digests(path)
        changes.append(
            FileChange(rel, path.stat().st_size, sha256, _action(sha256, blob_id, by_path.get(rel)))
        )
    produced = {c.path for c in changes}
    orphans = sorted(set(by_path) - produced)
    counts, schema_version = _read_row_counts(folder)
    title, description = commit_text(revision, counts, schema_version)
    return PublishPlan(
        repo_id=repo_id,
        revision=revision,
        folder=folder,
        files=tuple(changes),
        deletions=tuple(p for p in orphans if p not in KEEP_REMOTE),
        kept=tuple(p for p in orphans if p in KEEP_REMOTE),
        parent_commit=remote.head if remote else None,
        remote_known=remote is not None,
        remote_tags=remote.tags if remote else (),
        remote_private=remote.private if remote else None,
        commit_message=title,
        commit_description=description,
        row_counts=counts,
    )


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def render_plan(p: PublishPlan) -> str:
    """A plain-text table of the plan (no token, no absolute local paths beyond the folder)."""
    head = p.parent_commit[:12] if p.parent_commit else "none"
    lines = [
        f"{'DRY RUN: ' if p.dry_run else ''}publish {p.folder} → "
        f"hf.co/datasets/{p.repo_id} ({BRANCH})",
        f"  tag: {p.revision or '(none)'}   parent commit: {head}"
        + ("" if p.remote_known else "   (remote not queried: every file counts as added)"),
        f"  message: {p.commit_message}",
        "",
    ]
    if p.revision and p.revision in p.remote_tags:
        lines.insert(-1, f"  tag {p.revision} already exists: publishing would be refused")
    rows: list[tuple[str, str, str, str]] = [
        (f.action, f.path, human_size(f.size), f.sha256[:12]) for f in p.files
    ]
    rows += [("delete", path, "", "") for path in p.deletions]
    rows += [("keep", path, "", "") for path in p.kept]
    header = ("action", "path", "size", "sha256")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]

    def fmt(r: tuple[str, str, str, str]) -> str:
        return f"  {r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip()

    rule = ("-" * widths[0], "-" * widths[1], "-" * widths[2], "-" * widths[3])
    lines += [fmt(header), fmt(rule), *map(fmt, rows)]
    total = sum(f.size for f in p.files)
    lines += [
        "",
        f"  {p.count('add')} to add, {p.count('change')} to change, "
        f"{p.count('unchanged')} unchanged, {len(p.deletions)} to delete "
        f"({human_size(total)} in {len(p.files)} files)",
    ]
    if p.commit_oid:
        lines.append(f"  committed {p.commit_oid[:12]}{' and tagged' if p.tagged else ''}")
    return "\n".join(lines)


# --- publishing -----------------------------------------------------------------------------


def _refuse_invalid(folder: Path) -> None:
    problems = check_output(Path(folder))
    if problems:
        listing = "\n".join(f"  - {pr.file}: {pr.message}" for pr in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise PublishError(
            f"refusing to publish {folder}: `newsbench validate` finds {len(problems)} "
            f"problem(s):\n{listing}{more}\nRebuild the dataset, then publish again."
        )


def _refuse_version_mismatch(folder: Path, revision: str | None) -> None:
    """croissant.json records the dataset version: it must be the one being tagged."""
    path = folder / "croissant.json"
    if revision is None or not path.is_file():
        return
    try:
        recorded = json.loads(path.read_text(encoding="utf-8")).get("version")
    except ValueError:
        return  # not ours to judge here; check_output owns file validity
    if recorded != revision.removeprefix("v"):
        raise PublishError(
            f"croissant.json says version {recorded!r} but the tag is {revision}; rebuild with "
            f"version {revision.removeprefix('v')} so the metadata matches the release."
        )


def publish(
    folder: Path,
    repo_id: str,
    *,
    revision: str | None = None,
    private: bool = False,
    dry_run: bool = False,
    api: HfApi | None = None,
    token: str | None = None,
    remote: RemoteState | None = None,
    echo: bool = True,
) -> PublishPlan:
    """Validate, plan and (unless dry_run) publish the folder in one commit, then tag it.

    `private` applies when the repo is created; an existing public repo is refused rather than
    silently published to. The repo is created (if missing) before the plan is printed: preview
    with a dry run.
    A dry run resolves no token and makes no API call; `remote` (dry runs only) lets it compare
    against a listing obtained earlier. A real publish always plans against the live head.
    """
    folder = Path(folder)
    if remote is not None and not dry_run:
        raise ValueError("`remote` is for dry runs; a real publish plans against the live repo")
    validate_repo_id(repo_id)
    validate_revision(revision)
    _refuse_invalid(folder)
    _refuse_version_mismatch(folder, revision)
    if dry_run:
        p = replace(plan(folder, repo_id, None, revision, remote=remote), dry_run=True)
        if echo:
            print(render_plan(p))
        return p

    secret = resolve_token(token)
    if not secret:
        raise PublishError(f"no Hugging Face token found: {LOGIN_HINT}")
    api = api if api is not None else HfApi()
    try:
        api.create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True, token=secret)
    except Exception as exc:
        raise _api_error("create_repo", exc, secret) from None
    p = plan(folder, repo_id, api, revision, token=secret)
    if revision and revision in p.remote_tags:
        raise PublishError(
            f"tag {revision} already exists in {repo_id}; nothing was committed. "
            "Choose a new version."
        )
    if private and p.remote_private is False:
        # create_repo(exist_ok=True) never changes visibility: do not push into a public repo.
        raise PublishError(
            f"{repo_id} already exists and is public, but a private publish was asked for; "
            "nothing was committed. Make it private first (repo settings on the Hub, or "
            "HfApi.update_repo_settings(..., private=True)), or publish without --private."
        )
    if echo:
        print(render_plan(p))

    oid = p.parent_commit
    url = None
    if p.has_changes:
        operations: list[CommitOperationAdd | CommitOperationDelete] = [
            CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=str(folder / f.path))
            for f in p.files
        ]
        operations += [CommitOperationDelete(path_in_repo=path) for path in p.deletions]
        log.info(
            "committing %d file(s), deleting %d, to %s", len(p.files), len(p.deletions), repo_id
        )
        try:
            info = api.create_commit(
                repo_id,
                operations,
                commit_message=p.commit_message,
                commit_description=p.commit_description,
                repo_type=REPO_TYPE,
                revision=BRANCH,
                parent_commit=p.parent_commit,
                token=secret,
            )
        except Exception as exc:
            raise _api_error("create_commit", exc, secret) from None
        oid = getattr(info, "oid", None)
        url = getattr(info, "commit_url", None)
    else:
        log.info("%s is already up to date; no commit", repo_id)
    tagged = False
    if revision:
        try:
            api.create_tag(
                repo_id,
                tag=revision,
                tag_message=p.commit_message,
                revision=oid,
                repo_type=REPO_TYPE,
                token=secret,
            )
        except Exception as exc:
            error = _api_error(f"create_tag {revision}", exc, secret)
            error.args = (
                f"{error}\nCommit {oid} is published but not tagged; run the same publish "
                "again: it finds nothing to commit and tags that commit.",
            )
            raise error from None
        tagged = True
    done = replace(p, commit_oid=oid, commit_url=url, tagged=tagged)
    if echo:
        where = f"{repo_id} {revision}" if revision else repo_id
        print(f"published {where}: {url}" if url else f"{where}: no changes to commit")
    return done
