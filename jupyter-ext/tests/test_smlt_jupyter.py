"""Unit tests of the server extension's pieces that the e2e tests cannot reach: an idle event
stream whose browser leaves, chunked decoding, and the side process's token-file checks.
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

    def test_notebook_paths_outside_the_root_are_refused(self):
        body = json.dumps({"source": {"notebook": {}, "contentsPath": "../elsewhere.ipynb"}})
        response = self.fetch("/smlt/estimate", method="POST", body=body, headers={"Authorization": f"token {JUPYTER_TOKEN}"})
        self.assertEqual(response.code, 400)
        error = json.loads(response.body)["error"]
        self.assertEqual(error["field"], "source.contentsPath")
        self.assertIn("outside the Jupyter root", error["message"])


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
