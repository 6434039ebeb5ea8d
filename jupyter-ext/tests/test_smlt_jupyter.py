"""Unit tests of the server extension's pieces that the e2e tests cannot reach: an idle event
stream whose browser leaves, chunked decoding, the sweep routes' request mapping and refusals,
and the side process's token-file checks.
Run with Debian's python3: `/usr/bin/python3 -m unittest discover jupyter-ext/tests`."""
import asyncio
import json
import os
import socket
import sys
import tempfile
import textwrap
import unittest
import unittest.mock

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jupyter_server.auth.identity import IdentityProvider  # noqa: E402
from tornado import testing, web  # noqa: E402

from smlt_jupyter.handlers import setup_handlers  # noqa: E402
from smlt_jupyter.side_process import SideProcessError, SmltServe, find_command  # noqa: E402


JUPYTER_TOKEN = "jupyter-token-for-tests"
AUTH = f"Authorization: token {JUPYTER_TOKEN}"


class FakeSide:
    """Stands in for SmltServe: a URL and a token, no process."""

    def __init__(self, url):
        self.url = url

    async def ready(self):
        return self.url

    def auth_header(self):
        return {"Authorization": "Bearer fake-token-for-tests"}


class IdleUpstream:
    """An SSE server that sends one event, then nothing, and notes when its client hangs up."""

    def __init__(self):
        self.request = b""
        self.closed = asyncio.Event()

    async def start(self):
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def serve(self, reader, writer):
        while not self.request.endswith(b"\r\n\r\n"):
            self.request += await reader.read(1024)
        event = b'id: 1\nevent: run_started\ndata: {"seq":1}\n\n'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"%x\r\n%s\r\n" % (len(event), event))
        await writer.drain()
        await reader.read()  # idle until the relay closes its end
        self.closed.set()
        writer.close()


class EventsRelayTest(testing.AsyncHTTPTestCase):
    def get_app(self):
        self.upstream = IdleUpstream()
        port = self.io_loop.asyncio_loop.run_until_complete(self.upstream.start())
        self.root = tempfile.mkdtemp()
        # What jupyter_server 2 gives its handlers: an identity provider that knows the token the
        # requests carry, and the secret its login cookie is signed with.
        app = web.Application(
            base_url="/",
            cookie_secret=os.urandom(32),
            identity_provider=IdentityProvider(token=JUPYTER_TOKEN),
            smlt_serve=FakeSide(f"http://127.0.0.1:{port}"),
        )
        setup_handlers(app, root_dir=self.root)
        return app

    @testing.gen_test(timeout=20)
    async def test_idle_stream_is_closed_upstream_when_the_browser_leaves(self):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.get_http_port())
        writer.write(b"GET /smlt/runs/run-1/events?fromSeq=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n\r\n" % AUTH.encode())
        await writer.drain()
        received = b""
        while b"run_started" not in received:
            received += await reader.read(4096)
        self.assertIn(b"text/event-stream", received)
        self.assertIn(b"GET /v1/runs/run-1/events?fromSeq=0 HTTP/1.1", self.upstream.request)
        self.assertIn(b"Authorization: Bearer fake-token-for-tests", self.upstream.request)
        writer.close()
        # No event will come to make a write fail: only the close hook can end the upstream stream.
        await asyncio.wait_for(self.upstream.closed.wait(), timeout=5)

    @testing.gen_test(timeout=20)
    async def test_a_sweep_stream_is_relayed_from_the_sweep_route(self):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.get_http_port())
        writer.write(b"GET /smlt/sweeps/sweep-1/events?fromSeq=3 HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n\r\n" % AUTH.encode())
        await writer.drain()
        received = b""
        while b"run_started" not in received:  # the fake upstream's one event
            received += await reader.read(4096)
        self.assertIn(b"GET /v1/sweeps/sweep-1/events?fromSeq=3 HTTP/1.1", self.upstream.request)
        writer.close()
        await asyncio.wait_for(self.upstream.closed.wait(), timeout=5)

    def test_notebook_paths_outside_the_root_are_refused(self):
        body = json.dumps({"source": {"notebook": {}, "contentsPath": "../elsewhere.ipynb"}})
        response = self.fetch("/smlt/estimate", method="POST", body=body, headers={"Authorization": f"token {JUPYTER_TOKEN}"})
        self.assertEqual(response.code, 400)
        error = json.loads(response.body)["error"]
        self.assertEqual(error["field"], "source.contentsPath")
        self.assertIn("outside the Jupyter root", error["message"])


class JsonUpstream:
    """A fake smlt serve: records each request (method, path, JSON body) and answers the next
    queued (status, body), else 200 {}."""

    def __init__(self):
        self.requests = []
        self.answers = []

    async def start(self):
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def serve(self, reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append((method, path, json.loads(raw) if raw else None))
        status, body = self.answers.pop(0) if self.answers else (200, {})
        data = json.dumps(body).encode()
        writer.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                     % (status, len(data), data))
        await writer.drain()
        writer.close()


class FakeKernelSpecs:
    """The kernelspecs jupyter_server would find: a venv's ipykernel, and no tslab."""

    class Spec:
        def __init__(self, language, argv):
            self.language, self.argv = language, argv

    def get_kernel_spec(self, name):
        if name == "python3":
            return self.Spec("python", ["/opt/kernel-venv/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"])
        raise KeyError(name)


def notebook_json(kernel_name):
    return json.dumps({"cells": [], "metadata": {"kernelspec": {"name": kernel_name, "language": "x", "display_name": kernel_name}},
                       "nbformat": 4, "nbformat_minor": 5})


class SweepRoutesTest(testing.AsyncHTTPTestCase):
    """The browser sends a contents path and the limits; smlt serve gets the absolute notebook and
    the kernel's interpreter, both chosen here."""

    def get_app(self):
        self.upstream = JsonUpstream()
        port = self.io_loop.asyncio_loop.run_until_complete(self.upstream.start())
        self.root = os.path.realpath(tempfile.mkdtemp())
        os.makedirs(os.path.join(self.root, "nb"))
        for name, kernel in (("nb/sweep.ipynb", "tslab"), ("nb/keras.ipynb", "python3")):
            with open(os.path.join(self.root, name), "w") as f:
                f.write(notebook_json(kernel))
        app = web.Application(
            base_url="/",
            cookie_secret=os.urandom(32),
            identity_provider=IdentityProvider(token=JUPYTER_TOKEN),
            kernel_spec_manager=FakeKernelSpecs(),
            smlt_serve=FakeSide(f"http://127.0.0.1:{port}"),
        )
        setup_handlers(app, root_dir=self.root)
        return app

    def tearDown(self):
        self.upstream.server.close()
        super().tearDown()

    def call(self, method, path, body=None):
        response = self.fetch(path, method=method, body=None if body is None else json.dumps(body),
                              headers={"Authorization": f"token {JUPYTER_TOKEN}"})
        return response.code, json.loads(response.body or b"null")

    def test_estimate_sends_the_absolute_notebook_and_the_limits(self):
        self.upstream.answers.append((200, {"trials": 4, "forecast": {"feasible": True}}))
        code, body = self.call("POST", "/smlt/sweeps/estimate",
                               {"contentsPath": "nb/sweep.ipynb", "budgetUsd": 0.5, "deadlineS": 600, "backend": "local"})
        self.assertEqual((code, body["trials"]), (200, 4))
        # A tslab notebook has no Python kernel: no interpreter is sent.
        self.assertEqual(self.upstream.requests, [("POST", "/v1/sweeps/estimate", {
            "notebook": os.path.join(self.root, "nb/sweep.ipynb"), "budgetUsd": 0.5, "deadlineS": 600, "backend": "local"})])

    def test_start_adds_the_kernel_python_of_the_saved_notebook(self):
        self.upstream.answers.append((201, {"sweepId": "sweep-20261208-011500-a1b2c3"}))
        code, body = self.call("POST", "/smlt/sweeps", {"contentsPath": "/nb/keras.ipynb", "trials": 4})
        self.assertEqual((code, body), (201, {"sweepId": "sweep-20261208-011500-a1b2c3"}))
        self.assertEqual(self.upstream.requests, [("POST", "/v1/sweeps", {
            "notebook": os.path.join(self.root, "nb/keras.ipynb"), "trials": 4, "python": "/opt/kernel-venv/bin/python"})])

    def test_the_browser_cannot_choose_the_interpreter_or_the_output_folder(self):
        for field in ("python", "outDir", "notebook"):
            code, body = self.call("POST", "/smlt/sweeps", {"contentsPath": "nb/sweep.ipynb", field: "/tmp/elsewhere"})
            self.assertEqual((code, body["error"]["field"]), (400, field))
            self.assertIn("not a sweep setting", body["error"]["message"])
        self.assertEqual(self.upstream.requests, [])

    def test_notebooks_outside_the_root_or_unsaved_are_refused(self):
        code, body = self.call("POST", "/smlt/sweeps/estimate", {"contentsPath": "../elsewhere.ipynb"})
        self.assertEqual((code, body["error"]["field"]), (400, "contentsPath"))
        self.assertIn("outside the Jupyter root", body["error"]["message"])
        code, body = self.call("POST", "/smlt/sweeps", {"contentsPath": "nb/never-saved.ipynb"})
        self.assertEqual((code, body["error"]["code"], body["error"]["field"]), (400, "NOTEBOOK_UNREADABLE", "contentsPath"))
        self.assertIn("save it", body["error"]["message"])
        code, body = self.call("POST", "/smlt/sweeps", {})
        self.assertEqual((code, body["error"]["field"]), (400, "contentsPath"))
        self.assertEqual(self.upstream.requests, [])

    def test_errors_of_smlt_serve_keep_their_code_and_field(self):
        self.upstream.answers.append((400, {"error": {"code": "OPTION_INVALID", "message": "budgetUsd: too small", "field": "budgetUsd"}}))
        code, body = self.call("POST", "/smlt/sweeps", {"contentsPath": "nb/sweep.ipynb", "budgetUsd": 0.0001})
        self.assertEqual((code, body), (400, {"error": {"code": "OPTION_INVALID", "message": "budgetUsd: too small", "field": "budgetUsd"}}))

    def test_list_is_filtered_by_contents_path_newest_first(self):
        inside = os.path.join(self.root, "nb/sweep.ipynb")
        self.upstream.answers.append((200, [
            {"sweepId": "sweep-old", "notebook": inside, "createdAt": "2026-12-08T01:00:00Z", "status": "succeeded"},
            {"sweepId": "sweep-other", "notebook": "/elsewhere/x.ipynb", "createdAt": "2026-12-08T03:00:00Z", "status": "running"},
            {"sweepId": "sweep-new", "notebook": inside, "createdAt": "2026-12-08T02:00:00Z", "status": "running"},
        ]))
        code, body = self.call("GET", "/smlt/sweeps?contentsPath=nb%2Fsweep.ipynb")
        self.assertEqual(code, 200)
        self.assertEqual([s["sweepId"] for s in body], ["sweep-new", "sweep-old"])
        self.assertEqual({s["contentsPath"] for s in body}, {"nb/sweep.ipynb"})
        self.assertTrue(all("notebook" not in s for s in body), "absolute paths stay on the server")
        self.assertEqual(self.upstream.requests, [("GET", "/v1/sweeps", None)])

    def test_get_and_cancel_go_to_the_sweep(self):
        self.upstream.answers += [(200, {"sweepId": "sweep-1", "notebook": "/elsewhere/x.ipynb"}), (200, {"outcome": "requested"})]
        self.assertEqual(self.call("GET", "/smlt/sweeps/sweep-1"), (200, {"sweepId": "sweep-1", "contentsPath": None}))
        self.assertEqual(self.call("POST", "/smlt/sweeps/sweep-1/cancel", {}), (200, {"outcome": "requested"}))
        self.assertEqual([r[:2] for r in self.upstream.requests], [("GET", "/v1/sweeps/sweep-1"), ("POST", "/v1/sweeps/sweep-1/cancel")])


FAKE_SERVE = textwrap.dedent("""
    import json, os, sys, time
    home = os.environ["SMLT_HOME"]
    pid = os.getpid() if os.environ.get("FAKE_PID") == "own" else 1
    with open(os.path.join(home, "serve.json"), "w") as f:
        json.dump({"url": "http://127.0.0.1:4567", "token": "t" * 20, "pid": pid, "startedAt": "now"}, f)
    print("smlt serve: http://127.0.0.1:4567 (token in file); Ctrl-C stops it", flush=True)
    time.sleep(60)
""")


class SideProcessTest(unittest.TestCase):
    def start(self, pid_mode):
        home = tempfile.mkdtemp()
        script = os.path.join(home, "fake_serve.py")
        with open(script, "w") as f:
            f.write(FAKE_SERVE)
        env = dict(os.environ, SMLT_HOME=home, FAKE_PID=pid_mode)
        # The command gets "serve" appended; the fake ignores its arguments.
        side = SmltServe([sys.executable, script], env=env, start_timeout_s=20)
        side.start()
        self.addCleanup(side.stop)
        return side

    def test_reads_the_token_of_its_own_process(self):
        side = self.start("own")
        self.assertEqual(asyncio.run(side.ready()), "http://127.0.0.1:4567")
        self.assertEqual(side.auth_header(), {"Authorization": "Bearer " + "t" * 20})

    def test_refuses_a_token_file_of_another_process(self):
        side = self.start("other")
        with self.assertRaisesRegex(SideProcessError, "belongs to another smlt serve"):
            asyncio.run(side.ready())

    def test_a_missing_command_is_explained(self):
        side = SmltServe(None)
        side.start()
        with self.assertRaisesRegex(SideProcessError, "SMLT_JUPYTER_COMMAND"):
            asyncio.run(side.ready())

    def test_stop_ends_the_process(self):
        side = self.start("own")
        asyncio.run(side.ready())
        side.stop()
        self.assertIsNotNone(side._proc.poll())


class FindCommandTest(unittest.TestCase):
    """Node.js >= 20 and `smlt` are looked up on the Jupyter server's PATH, with a fix when missing."""

    def path_with(self, **programs):
        folder = tempfile.mkdtemp()
        for name, body in programs.items():
            path = os.path.join(folder, name)
            with open(path, "w") as f:
                f.write("#!/bin/sh\n" + body + "\n")
            os.chmod(path, 0o755)
        patch = unittest.mock.patch.dict(os.environ, {"PATH": folder})
        patch.start()
        self.addCleanup(patch.stop)
        return folder

    def test_no_node_names_the_requirement(self):
        self.path_with()
        command, why = find_command()
        self.assertIsNone(command)
        self.assertIn("Node.js 20 or newer", why)
        self.assertIn("npm link -w shared", why)

    def test_an_old_node_is_refused_with_its_version(self):
        self.path_with(node="echo v18.19.0")
        command, why = find_command()
        self.assertIsNone(command)
        self.assertRegex(why, r"Node.js 20 or newer; .*/node is v18")

    def test_node_and_smlt_on_path_run_the_cli_under_that_node(self):
        folder = self.path_with(node="echo v20.11.1", smlt="exit 0")
        command, why = find_command()
        self.assertIsNone(why)
        self.assertEqual(command, [os.path.join(folder, "node"), os.path.join(folder, "smlt")])


if __name__ == "__main__":
    unittest.main()
