"""Handlers under ``<base_url>/smlt/``: each one is a Jupyter ``APIHandler`` (Jupyter's login
and, for POST, its XSRF check) that forwards to ``smlt serve`` with the side process's bearer
token. Notebook locations arrive as Jupyter contents paths and leave as absolute paths inside
the server's root folder; the event stream is relayed chunk by chunk, never buffered."""
import asyncio
import base64
import binascii
import hashlib
import json
import os
import shutil
import sys
from urllib.parse import urlsplit

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import httpclient, web
from tornado.iostream import StreamClosedError

from .side_process import SideProcessError

_RUN_ID = r"(?P<run_id>[A-Za-z0-9][A-Za-z0-9_-]{0,127})"
# Sweep ids (sweep-20261208-011500-a1b2c3) follow the same rule as run ids in smlt serve.
_SWEEP_ID = r"(?P<sweep_id>[A-Za-z0-9][A-Za-z0-9_-]{0,127})"
# What the browser may set on a sweep; the notebook and its interpreter are the server's choice.
_SWEEP_SETTINGS = ("budgetUsd", "deadlineS", "trials", "epochs", "backend")
# A notebook's arrays travel base64 in JSON; 512 MiB of .npy is far beyond a notebook-sized dataset.
_MAX_ARRAY_BYTES = 512 * 1024 * 1024

BACKENDS = [
    {"name": "local", "label": "Local worker processes", "available": True},
    {"name": "aws", "label": "AWS Lambda", "available": True,
     "note": "needs `smlt deploy` in the notebook's project folder first (smlt.config.json)"},
]


class ApiFailure(Exception):
    def __init__(self, status, code, message, field=None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


class SmltHandler(APIHandler):
    @property
    def side(self):
        return self.settings["smlt_serve"]

    @property
    def root_dir(self):
        return os.path.realpath(self.settings["smlt_root_dir"])

    def fail(self, err):
        body = {"code": err.code, "message": err.message}
        if err.field:
            body["field"] = err.field
        self.set_status(err.status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": body}))

    def reply(self, status, body):
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def json_body(self):
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise ApiFailure(400, "OPTION_INVALID", "The request body is not valid JSON.", "")
        if not isinstance(body, dict):
            raise ApiFailure(400, "OPTION_INVALID", "The request body must be a JSON object.", "")
        return body

    def notebook_file(self, contents_path, field):
        """The absolute path of a contents path, refused when it leaves the server's root."""
        if not isinstance(contents_path, str) or contents_path.strip() == "":
            raise ApiFailure(400, "OPTION_INVALID", f"{field}: give the notebook's path in Jupyter's file browser.", field)
        rel = contents_path.strip("/")
        full = os.path.realpath(os.path.join(self.root_dir, rel))
        if os.path.isabs(rel) or not (full == self.root_dir or full.startswith(self.root_dir + os.sep)):
            raise ApiFailure(400, "OPTION_INVALID", f"{field}: {contents_path!r} is outside the Jupyter root folder.", field)
        return full

    def contents_path(self, absolute):
        if not absolute:
            return None
        rel = os.path.relpath(os.path.realpath(absolute), self.root_dir)
        return None if rel == ".." or rel.startswith(".." + os.sep) else rel.replace(os.sep, "/")

    def run_request(self, body):
        """The browser's request with its notebook source made absolute for smlt serve."""
        source = body.get("source")
        if not isinstance(source, dict) or not isinstance(source.get("notebook"), dict):
            raise ApiFailure(400, "OPTION_INVALID", "source.notebook: send the notebook's JSON.", "source.notebook")
        path = self.notebook_file(source.get("contentsPath"), "source.contentsPath")
        name = os.path.splitext(os.path.basename(path))[0] or "notebook"
        # The interpreter is the server's choice, never the browser's: the notebook kernel's Python.
        request = {k: v for k, v in body.items() if k not in ("source", "python")}
        request["source"] = {
            "notebook": source["notebook"],
            "notebookDir": os.path.dirname(path),
            "name": name[:200],
            "notebookPath": path,
        }
        python = self.kernel_python(source["notebook"])
        if python:
            request["python"] = python
        return request

    def sweep_request(self, body):
        """The browser's sweep settings with its notebook made absolute for smlt serve.

        A sweep reads the notebook from disk (the browser saves it first), so the kernel's
        interpreter is found from the saved file's kernelspec, never taken from the browser."""
        unknown = sorted(k for k in body if k not in _SWEEP_SETTINGS and k != "contentsPath")
        if unknown:
            allowed = ", ".join(("contentsPath",) + _SWEEP_SETTINGS)
            raise ApiFailure(400, "OPTION_INVALID", f"{unknown[0]}: not a sweep setting here; send only {allowed}.", unknown[0])
        path = self.notebook_file(body.get("contentsPath"), "contentsPath")
        try:
            with open(path, encoding="utf-8") as f:
                notebook = json.load(f)
        except (OSError, ValueError) as err:
            raise ApiFailure(400, "NOTEBOOK_UNREADABLE",
                             f"contentsPath: cannot read the saved notebook {body.get('contentsPath')!r} ({err}); save it and try again.",
                             "contentsPath")
        request = {k: body[k] for k in _SWEEP_SETTINGS if k in body}
        request["notebook"] = path
        python = self.kernel_python(notebook if isinstance(notebook, dict) else {})
        if python:
            request["python"] = python
        return request

    async def listed(self, path, wanted):
        """smlt serve's list at ``path``, newest first, of the notebook at contents path ``wanted`` (all when None)."""
        found = [self.with_contents_path(item) for item in await self.upstream("GET", path)]
        if wanted is not None:
            found = [item for item in found if item["contentsPath"] == wanted.strip("/")]
        found.sort(key=lambda item: item.get("createdAt", ""), reverse=True)
        return found

    def with_contents_path(self, summary):
        """A run's or sweep's summary with its absolute notebook as a contents path (None outside the root)."""
        summary = dict(summary)
        summary["contentsPath"] = self.contents_path(summary.pop("notebook", None))
        return summary

    def kernel_python(self, notebook):
        """The Python of the notebook's kernel, found as Jupyter starts it: a Keras notebook without
        SMLT cells has its cells run up to model.fit by that interpreter (smlt serve does it)."""
        metadata = notebook.get("metadata") if isinstance(notebook.get("metadata"), dict) else {}
        kernelspec = metadata.get("kernelspec") if isinstance(metadata.get("kernelspec"), dict) else {}
        manager = self.kernel_spec_manager
        name = kernelspec.get("name")
        if not isinstance(name, str):
            name = getattr(self.kernel_manager, "default_kernel_name", None) or "python3"
        try:
            spec = manager.get_kernel_spec(name)
        except Exception:  # not installed here: smlt serve falls back to $SMLT_PYTHON or python3
            return None
        if (spec.language or "").lower() != "python" or not spec.argv:
            return None
        executable = spec.argv[0]
        # jupyter_client starts a kernelspec's bare "python" (the native kernel's) as sys.executable.
        if executable in ("python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])):
            return sys.executable
        return executable if os.path.isabs(executable) else shutil.which(executable)

    async def upstream(self, method, path, body=None):
        """Calls smlt serve; answers its JSON, or raises ApiFailure with its error."""
        try:
            base = await self.side.ready()
        except SideProcessError as err:
            raise ApiFailure(503, "SERVER_UNREACHABLE", f"smlt serve is not running: {err}")
        headers = dict(self.side.auth_header())
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = httpclient.HTTPRequest(
            base + path, method=method, headers=headers,
            body=json.dumps(body) if body is not None else (b"" if method == "POST" else None),
            request_timeout=600, connect_timeout=10,
        )
        try:
            response = await httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
        except OSError as err:
            raise ApiFailure(503, "SERVER_UNREACHABLE", f"smlt serve did not answer: {err}")
        try:
            data = json.loads(response.body or b"null")
        except ValueError:
            data = None
        if response.code >= 400 or response.code < 100:
            error = (data or {}).get("error") if isinstance(data, dict) else None
            if not error:
                error = {"code": "SERVER_UNREACHABLE", "message": f"smlt serve answered HTTP {response.code}"}
            raise ApiFailure(response.code if response.code >= 400 else 502, error.get("code", "ERROR"),
                             error.get("message", ""), error.get("field"))
        return data


def _api(method):
    """Runs a handler method, answering ApiFailure as the error body every client understands."""
    async def wrapper(self, *args, **kwargs):
        try:
            await method(self, *args, **kwargs)
        except ApiFailure as err:
            self.fail(err)
    wrapper.__name__ = method.__name__
    return web.authenticated(wrapper)


class ConfigHandler(SmltHandler):
    @_api
    async def get(self):
        self.reply(200, {"backends": BACKENDS})


class EstimateHandler(SmltHandler):
    @_api
    async def post(self):
        self.reply(200, await self.upstream("POST", "/v1/estimate", self.run_request(self.json_body())))


class RunsHandler(SmltHandler):
    @_api
    async def get(self):
        wanted = self.get_query_argument("contentsPath", None)
        self.reply(200, await self.listed("/v1/runs", wanted))

    @_api
    async def post(self):
        started = await self.upstream("POST", "/v1/runs", self.run_request(self.json_body()))
        self.reply(201, started)


class RunHandler(SmltHandler):
    @_api
    async def get(self, run_id):
        self.reply(200, self.with_contents_path(await self.upstream("GET", f"/v1/runs/{run_id}")))


class CancelHandler(SmltHandler):
    @_api
    async def post(self, run_id):
        self.reply(200, await self.upstream("POST", f"/v1/runs/{run_id}/cancel"))


class ArtifactsHandler(SmltHandler):
    @_api
    async def get(self, run_id):
        self.reply(200, await self.upstream("GET", f"/v1/runs/{run_id}/artifacts"))


class ReportHandler(SmltHandler):
    """The run's report.json (written when the run ends), read from where smlt serve says it is."""

    @_api
    async def get(self, run_id):
        artifacts = await self.upstream("GET", f"/v1/runs/{run_id}/artifacts")
        path = artifacts.get("reportPath")
        if not path or not os.path.isfile(path):
            raise ApiFailure(404, "RUN_NOT_FOUND", f"Run {run_id} has no report yet; it is written when the run ends.")
        with open(path, encoding="utf-8") as f:
            self.reply(200, json.load(f))


class ArraysHandler(SmltHandler):
    """Stores a kernel's array (.npy bytes) next to the notebook, by content hash, for capture."""

    @_api
    async def post(self):
        body = self.json_body()
        notebook = self.notebook_file(body.get("contentsPath"), "contentsPath")
        try:
            data = base64.b64decode(body.get("npyBase64") or "", validate=True)
        except (binascii.Error, TypeError):
            raise ApiFailure(400, "DATA_INVALID", "npyBase64: not base64.", "npyBase64")
        if not data.startswith(b"\x93NUMPY"):
            raise ApiFailure(400, "DATA_INVALID", f"npyBase64: the array {body.get('name')!r} is not in .npy format.", "npyBase64")
        if len(data) > _MAX_ARRAY_BYTES:
            raise ApiFailure(413, "PAYLOAD_TOO_LARGE", "The array is larger than 512 MiB; save it as a .npy file next to the notebook.")
        folder = os.path.join(os.path.dirname(notebook), ".smlt", "kernel-data")
        os.makedirs(folder, exist_ok=True)
        name = hashlib.sha256(data).hexdigest()[:24] + ".npy"
        target = os.path.join(folder, name)
        if not os.path.exists(target):
            tmp = f"{target}.{os.getpid()}.tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        self.reply(200, {"path": f".smlt/kernel-data/{name}", "bytes": len(data)})


class EventsHandler(SmltHandler):
    """A run's (or, in a subclass, a sweep's) Server-Sent Events, relayed as they arrive
    (``fromSeq`` or ``Last-Event-ID``); smlt serve frames both streams alike.

    A plain HTTP/1.1 connection to smlt serve rather than tornado's client, so that the upstream
    stream is closed the moment the browser leaves (tornado's client cannot be cancelled)."""

    # The /v1/<collection>/<id>/events stream this handler relays.
    collection = "runs"
    _upstream = None

    def on_connection_close(self):
        if self._upstream is not None:
            self._upstream.close()

    @_api
    async def get(self, **ids):
        # One path argument: run_id or sweep_id, as the route names it.
        (item_id,) = ids.values()
        try:
            base = await self.side.ready()
        except SideProcessError as err:
            raise ApiFailure(503, "SERVER_UNREACHABLE", f"smlt serve is not running: {err}")
        from_seq = self.get_query_argument("fromSeq", None)
        query = f"?fromSeq={int(from_seq)}" if from_seq and from_seq.isdigit() else ""
        headers = dict(self.side.auth_header())
        last = self.request.headers.get("Last-Event-ID")
        if last and not query:
            headers["Last-Event-ID"] = last
        host, port = urlsplit(base).hostname, urlsplit(base).port
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as err:
            raise ApiFailure(503, "SERVER_UNREACHABLE", f"smlt serve did not answer: {err}")
        self._upstream = writer
        try:
            lines = [f"GET /v1/{self.collection}/{item_id}/events{query} HTTP/1.1", f"Host: {host}:{port}",
                     "Accept: text/event-stream", "Connection: close"]
            lines += [f"{name}: {value}" for name, value in headers.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            await writer.drain()
            status, response_headers = await _read_head(reader)
            chunked = "chunked" in response_headers.get("transfer-encoding", "").lower()
            if status != 200:
                body = b"".join([part async for part in _read_body(reader, chunked)])
                try:
                    error = json.loads(body)["error"]
                except (ValueError, KeyError, TypeError):
                    error = {"code": "SERVER_UNREACHABLE", "message": f"smlt serve answered HTTP {status}"}
                raise ApiFailure(status, error.get("code", "ERROR"), error.get("message", ""), error.get("field"))
            self.set_status(200)
            self.set_header("Content-Type", "text/event-stream; charset=utf-8")
            self.set_header("Cache-Control", "no-store")
            self.set_header("X-Accel-Buffering", "no")
            await self.flush()
            async for part in _read_body(reader, chunked):
                self.write(part)
                await self.flush()
        except (OSError, asyncio.IncompleteReadError, StreamClosedError):
            return  # the browser left, or smlt serve stopped: the browser reconnects from its last seq
        finally:
            writer.close()
            self._upstream = None
        self.finish()


class SweepEventsHandler(EventsHandler):
    collection = "sweeps"


class SweepEstimateHandler(SmltHandler):
    """The sweep's forecast (trials, rungs, time and cost, feasible or the fix); starts nothing."""

    @_api
    async def post(self):
        self.reply(200, await self.upstream("POST", "/v1/sweeps/estimate", self.sweep_request(self.json_body())))


class SweepsHandler(SmltHandler):
    @_api
    async def get(self):
        self.reply(200, await self.listed("/v1/sweeps", self.get_query_argument("contentsPath", None)))

    @_api
    async def post(self):
        self.reply(201, await self.upstream("POST", "/v1/sweeps", self.sweep_request(self.json_body())))


class SweepHandler(SmltHandler):
    @_api
    async def get(self, sweep_id):
        self.reply(200, self.with_contents_path(await self.upstream("GET", f"/v1/sweeps/{sweep_id}")))


class SweepCancelHandler(SmltHandler):
    @_api
    async def post(self, sweep_id):
        self.reply(200, await self.upstream("POST", f"/v1/sweeps/{sweep_id}/cancel"))


async def _read_head(reader):
    status_line = await reader.readline()
    parts = status_line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise ApiFailure(502, "PROTOCOL_ERROR", "smlt serve answered something that is not HTTP.")
    headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            return int(parts[1]), headers
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()


async def _read_body(reader, chunked):
    """The body as it arrives: chunk by chunk (chunked encoding) or until the connection ends."""
    if not chunked:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            yield data
    while True:
        size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return
        data = await reader.readexactly(size)
        await reader.readexactly(2)  # the CRLF after each chunk
        yield data


def setup_handlers(web_app, root_dir):
    web_app.settings["smlt_root_dir"] = root_dir
    base = url_path_join(web_app.settings["base_url"], "smlt")
    web_app.add_handlers(".*$", [
        (url_path_join(base, "config"), ConfigHandler),
        (url_path_join(base, "estimate"), EstimateHandler),
        (url_path_join(base, "arrays"), ArraysHandler),
        (url_path_join(base, "runs"), RunsHandler),
        (url_path_join(base, "runs", _RUN_ID), RunHandler),
        (url_path_join(base, "runs", _RUN_ID, "cancel"), CancelHandler),
        (url_path_join(base, "runs", _RUN_ID, "artifacts"), ArtifactsHandler),
        (url_path_join(base, "runs", _RUN_ID, "report"), ReportHandler),
        (url_path_join(base, "runs", _RUN_ID, "events"), EventsHandler),
        (url_path_join(base, "sweeps"), SweepsHandler),
        (url_path_join(base, "sweeps", "estimate"), SweepEstimateHandler),
        (url_path_join(base, "sweeps", _SWEEP_ID), SweepHandler),
        (url_path_join(base, "sweeps", _SWEEP_ID, "cancel"), SweepCancelHandler),
        (url_path_join(base, "sweeps", _SWEEP_ID, "events"), SweepEventsHandler),
    ])
