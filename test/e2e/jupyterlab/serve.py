#!/usr/bin/python3
"""Runs the JupyterLab 4 frontend built by app/build.sh on Debian's jupyter_server 1.23 and
jupyterlab_server 2.16 (bookworm has no `jupyterlab` Python package), for the e2e tests.

    /usr/bin/python3 serve.py --app-dir .cache/jupyterlab-app --root-dir NOTEBOOKS \
        --labextension jupyter-ext/build/labextension --port 8899 --token T \
        [--server-extension smlt_jupyter] [--ServerApp.* ...]

Server extensions named with --server-extension are loaded the way Jupyter loads any
(`jpserver_extensions`), so they must be importable (PYTHONPATH).

JupyterLab 4 asks jupyter_server for three things that 1.23 does not have: GET /api/me, the
/api/events/subscribe websocket and (jupyter-lsp's) /lsp/status. Each would put an error in the
browser console on every load, so small stand-ins answer them here; with them the console stays
empty and a test may fail on any console error.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.zmqhandlers import WebSocketMixin
from jupyterlab_server import LabServerApp
from tornado import web, websocket
from traitlets import Unicode


class CurrentUser(APIHandler):
    """/api/me as jupyter_server 2 answers it for one anonymous user."""

    @web.authenticated
    def get(self):
        self.finish(json.dumps({
            "identity": {"username": "tester", "name": "Tester", "display_name": "Tester",
                         "initials": "T", "avatar_url": None, "color": None},
            "permissions": {},
        }))


class QuietEvents(WebSocketMixin, websocket.WebSocketHandler, JupyterHandler):
    """The server-events websocket: open (for logged-in users only) and silent."""

    async def get(self, *args, **kwargs):
        if self.current_user is None:
            raise web.HTTPError(403)
        return await super().get(*args, **kwargs)

    def on_message(self, message):
        pass


class NoLanguageServers(APIHandler):
    @web.authenticated
    def get(self):
        self.finish(json.dumps({"version": 2, "sessions": {}, "specs": {}}))


class TestLab(LabServerApp):
    name = "smlt_test_lab"
    app_name = "JupyterLab"
    default_url = "/lab"
    # LabServerApp does not let config set it; Help > About shows it.
    app_version = Unicode("", config=True)

    @classmethod
    def get_extension_package(cls):
        return "__main__"

    def initialize_handlers(self):
        self.handlers += [
            (r"/api/me", CurrentUser),
            (r"/api/events/subscribe", QuietEvents),
            (r"/lsp/status", NoLanguageServers),
        ]
        super().initialize_handlers()


def _jupyter_server_extension_points():
    return [{"module": "__main__", "app": TestLab}]


def install_labextensions(folders, target):
    """Copies each built labextension to <target>/<its package name>, where JupyterLab looks."""
    for folder in folders:
        meta_file = os.path.join(folder, "package.json")
        if not os.path.isfile(meta_file):
            sys.exit(f"--labextension {folder}: no package.json; pass the folder the builder wrote")
        with open(meta_file, encoding="utf-8") as f:
            meta = json.load(f)
        if "_build" not in meta.get("jupyterlab", {}):
            sys.exit(f"--labextension {folder}: not a built labextension (no jupyterlab._build)")
        shutil.copytree(folder, os.path.join(target, meta["name"]), dirs_exist_ok=True)


def main():
    parser = argparse.ArgumentParser(description="JupyterLab 4 for the e2e tests")
    parser.add_argument("--app-dir", required=True)
    parser.add_argument("--root-dir", required=True)
    parser.add_argument("--state-dir", help="settings and workspaces (default: a temp folder, removed at exit)")
    parser.add_argument("--labextension", action="append", default=[])
    parser.add_argument("--server-extension", action="append", default=[])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    opts, passthrough = parser.parse_known_args()

    app = os.path.abspath(opts.app_dir)
    static = os.path.join(app, "static")
    if not os.path.isfile(os.path.join(static, "index.html")):
        sys.exit(f"{static}/index.html is missing: run bash .ci/setup.d/jupyterlab.sh")
    with open(os.path.join(static, "package.json"), encoding="utf-8") as f:
        version = json.load(f).get("version", "")
    state = opts.state_dir or tempfile.mkdtemp(prefix="smlt-lab-state-")
    labextensions = os.path.join(state, "labextensions")
    os.makedirs(labextensions, exist_ok=True)
    install_labextensions(opts.labextension, labextensions)
    # Through the class, which merges them with this app's own entry (a command-line dict would replace it).
    TestLab.serverapp_config = {"jpserver_extensions": {name: True for name in opts.server_extension}}

    argv = [
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={opts.port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        "--ServerApp.allow_root=True",
        f"--ServerApp.root_dir={os.path.abspath(opts.root_dir)}",
        f"--ServerApp.token={opts.token}",
        "--ServerApp.password=",
        f"--LabServerApp.app_settings_dir={os.path.join(app, 'settings')}",
        f"--LabServerApp.schemas_dir={os.path.join(app, 'schemas')}",
        f"--LabServerApp.themes_dir={os.path.join(app, 'themes')}",
        f"--LabServerApp.static_dir={static}",
        f"--LabServerApp.templates_dir={static}",
        f"--LabServerApp.user_settings_dir={os.path.join(state, 'user-settings')}",
        f"--LabServerApp.workspaces_dir={os.path.join(state, 'workspaces')}",
        f"--LabServerApp.labextensions_path={labextensions}",
        f"--TestLab.app_version={version}",
    ] + passthrough
    try:
        TestLab.launch_instance(argv=argv)
    finally:
        if not opts.state_dir:
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
