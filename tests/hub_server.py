"""A small Hugging Face Hub-compatible HTTP server on 127.0.0.1, for tests that must stay offline.

It implements the endpoints huggingface_hub 2.x calls for ``HfApi.create_repo``,
``upload_folder`` / ``create_commit`` (preupload + NDJSON commit, files inline in base64),
``model_info`` / ``repo_info``, ``list_repo_tree`` / ``list_repo_files``, and ``hf_hub_download``
/ ``snapshot_download`` (the ``resolve`` URLs, HEAD and GET)::

    POST /api/repos/create                              create (409 + url if it exists)
    POST /api/validate-yaml                             README front matter check
    POST /api/{type}s/{ns}/{name}/preupload/{rev}       upload mode per file
    POST /api/{type}s/{ns}/{name}/commit/{rev}          NDJSON commit
    GET  /api/{type}s/{ns}/{name}[/revision/{rev}]      repo info with siblings
    GET  /api/{type}s/{ns}/{name}/tree/{rev}[/{path}]   file listing (?recursive=true)
    HEAD/GET /{ns}/{name}/resolve/{rev}/{path}          file (also /{type}s/... for non-models)

The preupload answer is always ``"regular"``: files travel base64-encoded inside the commit, so
neither Git LFS nor Xet (hf_xet talks to its storage from Rust, beyond the reach of the
tests' socket guard) is ever used, and no response carries Xet headers.

Storage is in memory. Each repo keeps its commit history, so any commit sha resolves.

Simulated trouble, for tests:
- ``bad_tokens`` (default ``{"bad"}``): any request with such a token gets 401 "Invalid
  credentials".
- ``read_only_tokens`` (default ``{"read-only"}``): writes get 403.
- writes without a token get 401; private repos are invisible (401 RepoNotFound) without a token.
- ``fail_on[route] = status`` answers ``route`` with that HTTP status (routes: ``create``,
  ``validate-yaml``, ``preupload``, ``commit``, ``info``, ``tree``, ``resolve``);
  ``fail_on[route] = "disconnect"`` closes the connection without answering.
  Prefer statuses huggingface_hub does not retry (not 408/429/5xx) to keep tests fast.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

REPO_TYPES = ("model", "dataset", "space")
GITATTRIBUTES = (
    b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    b"*.mp4 filter=lfs diff=lfs merge=lfs -text\n"
)


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob, which the Hub uses as oid and ETag of regular files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Commit:
    sha: str
    files: dict[str, bytes]
    message: str
    date: str


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool = False
    commits: list[Commit] = field(default_factory=list)
    branches: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        sha = self.branches.get(revision, revision)
        return next((c for c in reversed(self.commits) if c.sha == sha), None)

    def commit(self, files: dict[str, bytes], message: str, branch: str = "main") -> Commit:
        parent = self.branches.get(branch, "")
        digest = hashlib.sha1(parent.encode() + message.encode() + str(len(self.commits)).encode())
        for path in sorted(files):
            digest.update(path.encode() + b"\0" + git_blob_sha1(files[path]).encode())
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        commit = Commit(digest.hexdigest(), dict(files), message, now)
        self.commits.append(commit)
        self.branches[branch] = commit.sha
        return commit


class _Abort(Exception):
    """Raised by a route to send an error response."""

    def __init__(
        self,
        status: int,
        message: str,
        error_code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.error_code, self.headers = (
            status,
            message,
            error_code,
            headers or {},
        )


class _Disconnect(Exception):
    pass


class HubServer:
    """The server; use as a context manager or call ``start()`` / ``stop()``.

    Attributes:
        endpoint: ``http://127.0.0.1:PORT``, to pass as ``endpoint=``.
        repos: ``{"models/USER/NAME": Repo}``.
        fail_on: route name -> HTTP status (or ``"disconnect"``) to answer instead.
        requests: ``(method, path)`` of every request, for assertions.
    """

    def __init__(
        self, bad_tokens: set[str] | None = None, read_only_tokens: set[str] | None = None
    ) -> None:
        self.bad_tokens = {"bad"} if bad_tokens is None else set(bad_tokens)
        self.read_only_tokens = {"read-only"} if read_only_tokens is None else set(read_only_tokens)
        self.repos: dict[str, Repo] = {}
        self.fail_on: dict[str, int | str] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> HubServer:
        handler = type("Handler", (_Handler,), {"hub": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="hub-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
            self._httpd = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # ------------------------------------------------------------------ direct access (test setup)
    def repo(self, repo_id: str, repo_type: str = "model") -> Repo | None:
        return self.repos.get(f"{repo_type}s/{repo_id}")

    def create_repo(self, repo_id: str, repo_type: str = "model", private: bool = False) -> Repo:
        with self.lock:
            key = f"{repo_type}s/{repo_id}"
            if key not in self.repos:
                repo = Repo(repo_type, repo_id, private)
                repo.commit({".gitattributes": GITATTRIBUTES}, "initial commit")
                self.repos[key] = repo
            return self.repos[key]

    def add_files(
        self,
        repo_id: str,
        files: dict[str, bytes],
        repo_type: str = "model",
        message: str = "add files",
    ) -> str:
        """Commit ``files`` to ``main`` (creating the repo if needed); return the commit sha."""
        with self.lock:
            repo = self.create_repo(repo_id, repo_type)
            current = repo.resolve("main").files
            return repo.commit({**current, **files}, message).sha

    def files(
        self, repo_id: str, revision: str = "main", repo_type: str = "model"
    ) -> dict[str, bytes]:
        """The files of ``repo_id`` at ``revision`` (a copy)."""
        repo = self.repo(repo_id, repo_type)
        assert repo is not None, f"no repo {repo_id}"
        return dict(repo.resolve(revision).files)


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    server_version = "FakeHub/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    # ------------------------------------------------------------------ plumbing
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _body(self) -> bytes:
        return self._raw_body

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _json_body(self) -> Any:
        try:
            return json.loads(self._body() or b"null")
        except ValueError as exc:
            raise _Abort(400, f"invalid JSON body: {exc}") from exc

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        head: bool = False,
        length: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), headers=headers)

    def _dispatch(self, method: str) -> None:
        # Read the whole body first: closing a socket with unread data sends a TCP reset, which
        # the client would see instead of an error response.
        self._raw_body = self._read_body() if method in ("POST", "PUT") else b""
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self.hub.lock:
            self.hub.requests.append((method, url.path))
        try:
            route, handler, args = self._route(method, url.path)
            failure = self.hub.fail_on.get(route)
            if failure == "disconnect":
                raise _Disconnect()
            if failure is not None:
                raise _Abort(int(failure), f"simulated failure of {route}")
            token = self._token()
            if token is not None and token in self.hub.bad_tokens:
                raise _Abort(401, "Invalid credentials in Authorization header")
            handler(method, query, *args)
        except _Disconnect:
            self.close_connection = True
        except _Abort as err:
            headers = {"X-Error-Message": err.message, **err.headers}
            if err.error_code:
                headers["X-Error-Code"] = err.error_code
            if method == "HEAD":
                self._send(err.status, headers=headers, head=True)
            else:
                self._send_json(err.status, {"error": err.message}, headers)

    def _route(self, method: str, path: str):
        parts = [unquote(p) for p in path.split("/")[1:]]
        types = "|".join(f"{t}s" for t in REPO_TYPES)
        if method == "POST" and path == "/api/repos/create":
            return "create", self._create, ()
        if method == "POST" and path == "/api/validate-yaml":
            return "validate-yaml", self._validate_yaml, ()
        if len(parts) >= 4 and parts[0] == "api" and re.fullmatch(types, parts[1]):
            repo_type, repo_id, rest = parts[1][:-1], "/".join(parts[2:4]), parts[4:]
            if method == "POST" and len(rest) == 2 and rest[0] in ("preupload", "commit"):
                handler = self._preupload if rest[0] == "preupload" else self._commit
                return rest[0], handler, (repo_type, repo_id, rest[1])
            if method == "GET" and (not rest or (len(rest) == 2 and rest[0] == "revision")):
                return "info", self._info, (repo_type, repo_id, rest[1] if rest else "main")
            if method == "GET" and len(rest) >= 2 and rest[0] == "tree":
                return "tree", self._tree, (repo_type, repo_id, rest[1], "/".join(rest[2:]))
        if method in ("GET", "HEAD"):
            repo_type = "model"
            if parts and re.fullmatch(f"{types}", parts[0]) and parts[0] != "models":
                repo_type, parts = parts[0][:-1], parts[1:]
            if len(parts) >= 5 and parts[2] == "resolve":
                return (
                    "resolve",
                    self._resolve,
                    (repo_type, "/".join(parts[:2]), parts[3], "/".join(parts[4:])),
                )
        raise _Abort(404, f"no route for {method} {path}")

    # ------------------------------------------------------------------ access rules
    def _require_write(self) -> None:
        token = self._token()
        if token is None:
            raise _Abort(401, "Invalid username or password.")
        if token in self.hub.read_only_tokens:
            raise _Abort(403, "You don't have the rights to write to this repository")

    def _repo(self, repo_type: str, repo_id: str) -> Repo:
        repo = self.hub.repo(repo_id, repo_type)
        if repo is None or (repo.private and self._token() is None):
            status = 401 if self._token() is None else 404
            raise _Abort(status, "Repository not found", "RepoNotFound")
        return repo

    def _commit_at(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise _Abort(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    # ------------------------------------------------------------------ routes
    def _create(self, method: str, query: dict) -> None:
        self._require_write()
        body = self._json_body() or {}
        name, namespace = body.get("name"), body.get("organization") or "user"
        repo_type = body.get("type") or "model"
        if not name or repo_type not in REPO_TYPES:
            raise _Abort(400, "invalid name or type")
        repo_id = f"{namespace}/{name}"
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        url = f"{self.hub.endpoint}/{prefix}{repo_id}"
        with self.hub.lock:
            if self.hub.repo(repo_id, repo_type) is not None:
                self._send_json(
                    409, {"error": f"You already created this {repo_type} repo", "url": url}
                )
                return
            private = body.get("private", body.get("visibility") == "private")
            self.hub.create_repo(repo_id, repo_type, private=bool(private))
        self._send_json(200, {"url": url, "name": repo_id, "id": repo_id})

    def _validate_yaml(self, method: str, query: dict) -> None:
        content = (self._json_body() or {}).get("content", "")
        match = re.match(r"^\s*---\r?\n(.*?)\r?\n---\s*(\r?\n|$)", content, re.S)
        errors = []
        try:
            meta = yaml.safe_load(match.group(1)) if match else None
        except yaml.YAMLError as exc:
            meta, errors = None, [{"message": f"invalid YAML: {exc}"}]
        if match and not errors and not isinstance(meta, dict):
            errors.append({"message": "metadata must be a mapping"})
        if isinstance(meta, dict) and "model-index" in meta:
            errors += [{"message": m} for m in _model_index_problems(meta["model-index"])]
        warnings = [] if match else [{"message": "empty or missing yaml metadata in repo card"}]
        self._send_json(400 if errors else 200, {"errors": errors, "warnings": warnings})

    def _preupload(
        self, method: str, query: dict, repo_type: str, repo_id: str, revision: str
    ) -> None:
        self._require_write()
        repo = self._repo(repo_type, repo_id)
        files = (self._json_body() or {}).get("files") or []
        current = repo.resolve(revision)  # a new branch has no files yet
        existing = current.files if current is not None else {}
        answer = [
            {
                "path": f["path"],
                "uploadMode": "regular",
                "shouldIgnore": False,
                "oid": git_blob_sha1(existing[f["path"]]) if f["path"] in existing else None,
            }
            for f in files
        ]
        self._send_json(200, {"files": answer, "commitOid": current.sha if current else None})

    def _commit(
        self, method: str, query: dict, repo_type: str, repo_id: str, revision: str
    ) -> None:
        self._require_write()
        repo = self._repo(repo_type, repo_id)
        if query.get("create_pr") in ("1", "true"):
            raise _Abort(400, "pull requests are not supported by the test server")
        lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise _Abort(400, "the commit payload must start with a header line")
        header = lines[0]["value"]
        with self.hub.lock:
            current = repo.resolve(revision)
            if current is None:
                raise _Abort(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            if header.get("parentCommit") not in (None, current.sha):
                raise _Abort(412, "A commit has happened since. Please refresh and try again.")
            files = dict(current.files)
            for line in lines[1:]:
                key, value = line.get("key"), line.get("value", {})
                if key == "file":
                    if value.get("encoding") != "base64":
                        raise _Abort(400, "only base64 file content is supported")
                    files[value["path"]] = base64.b64decode(value["content"])
                elif key == "deletedFile":
                    if value["path"] not in files:
                        raise _Abort(404, f"file {value['path']} does not exist", "EntryNotFound")
                    del files[value["path"]]
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    files = {p: d for p, d in files.items() if not p.startswith(prefix)}
                else:  # lfsFile / copies: never requested, since preupload always answers "regular"
                    raise _Abort(422, f"unsupported commit operation {key!r}")
            commit = repo.commit(files, header.get("summary", ""), branch=revision)
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        self._send_json(
            200,
            {
                "success": True,
                "commitOid": commit.sha,
                "commitUrl": f"{self.hub.endpoint}/{prefix}{repo_id}/commit/{commit.sha}",
            },
        )

    def _info(self, method: str, query: dict, repo_type: str, repo_id: str, revision: str) -> None:
        repo = self._repo(repo_type, repo_id)
        commit = self._commit_at(repo, revision)
        siblings = [{"rfilename": p} for p in sorted(commit.files)]
        if query.get("blobs") in ("1", "true", "True"):
            for s in siblings:
                data = commit.files[s["rfilename"]]
                s.update(size=len(data), blobId=git_blob_sha1(data))
        self._send_json(
            200,
            {
                "id": repo_id,
                "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
                "author": repo_id.split("/")[0],
                "sha": commit.sha,
                "private": repo.private,
                "gated": False,
                "disabled": False,
                "lastModified": commit.date,
                "tags": [],
                "downloads": 0,
                "likes": 0,
                "siblings": siblings,
            },
        )

    def _tree(
        self, method: str, query: dict, repo_type: str, repo_id: str, revision: str, path: str
    ) -> None:
        repo = self._repo(repo_type, repo_id)
        commit = self._commit_at(repo, revision)
        recursive = query.get("recursive", "false").lower() in ("1", "true")
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        if prefix and not any(p.startswith(prefix) for p in commit.files):
            raise _Abort(404, f"{path} does not exist", "EntryNotFound")
        entries: dict[str, dict] = {}
        for file_path, data in sorted(commit.files.items()):
            if not file_path.startswith(prefix):
                continue
            rest = file_path[len(prefix) :].split("/")
            # the folders between prefix and the file, then the file itself if in reach
            for depth in range(1, len(rest)):
                folder = prefix + "/".join(rest[:depth])
                if recursive or depth == 1:
                    entries.setdefault(
                        folder,
                        {
                            "type": "directory",
                            "oid": hashlib.sha1(folder.encode()).hexdigest(),
                            "size": 0,
                            "path": folder,
                        },
                    )
            if recursive or len(rest) == 1:
                entries[file_path] = {
                    "type": "file",
                    "oid": git_blob_sha1(data),
                    "size": len(data),
                    "path": file_path,
                }
        self._send_json(200, list(entries.values()))

    def _resolve(
        self, method: str, query: dict, repo_type: str, repo_id: str, revision: str, path: str
    ) -> None:
        repo = self._repo(repo_type, repo_id)
        commit = self._commit_at(repo, revision)
        if path not in commit.files:
            raise _Abort(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": commit.sha})
        data = commit.files[path]
        headers = {
            "X-Repo-Commit": commit.sha,
            "ETag": f'"{git_blob_sha1(data)}"',
            "Accept-Ranges": "bytes",
        }
        status, body = 200, data
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else len(data) - 1
            if start >= len(data):
                raise _Abort(
                    416,
                    "Requested range not satisfiable",
                    headers={"Content-Range": f"bytes */{len(data)}"},
                )
            status, body = 206, data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{start + len(body) - 1}/{len(data)}"
        self._send(status, body, "application/octet-stream", headers, head=(method == "HEAD"))


def _model_index_problems(model_index: Any) -> list[str]:
    """The checks the Hub applies to a card's model-index, as far as our cards need them."""
    if not isinstance(model_index, list):
        return ["model-index must be a list"]
    problems = []
    for entry in model_index:
        if (
            not isinstance(entry, dict)
            or "name" not in entry
            or not isinstance(entry.get("results"), list)
        ):
            problems.append("each model-index entry needs a name and a list of results")
            continue
        for result in entry["results"]:
            task, metrics = result.get("task"), result.get("metrics")
            if not isinstance(task, dict) or "type" not in task:
                problems.append("each result needs a task with a type")
            if not isinstance(metrics, list) or not all(
                isinstance(m, dict) and {"type", "value"} <= set(m) for m in metrics
            ):
                problems.append("each result needs metrics with a type and a value")
    return problems
