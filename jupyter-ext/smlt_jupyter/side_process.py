"""The ``smlt serve`` side process: started once, found by its URL line and token file, and
stopped with the Jupyter server (at exit, and by the kernel if this process dies first)."""
import asyncio
import atexit
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading

_URL_LINE = re.compile(r"^smlt serve: (http://127\.0\.0\.1:\d+) ")
_HERE = os.path.dirname(os.path.abspath(__file__))


class SideProcessError(RuntimeError):
    """smlt serve could not be started or stopped answering."""


MIN_NODE = 20
_INSTALL_HINT = (
    "put the smlt command on the Jupyter server's PATH (from a checkout of SMLT: `npm ci && npm link -w shared`), "
    "or set SMLT_JUPYTER_COMMAND to a JSON list such as [\"node\", \"/path/to/smlt.js\"]; then restart Jupyter"
)
_NOT_FOUND = f"cannot find the smlt command: {_INSTALL_HINT}"


def _node_major(node):
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v(\d+)\.", out.strip())
    return int(match.group(1)) if match else None


def find_command():
    """How to run the smlt CLI, as ``(command, None)``, or ``(None, why not and what to do)``.

    Node.js >= 20 on PATH runs ``smlt`` from PATH, else the CLI of the checkout this package
    sits in (when it runs from a checkout, not installed).
    """
    node = shutil.which("node")
    if node is None:
        return None, f"SMLT needs Node.js {MIN_NODE} or newer and the Jupyter server's PATH has no `node`: install Node.js, then {_INSTALL_HINT}"
    major = _node_major(node)
    if major is None or major < MIN_NODE:
        found = f"v{major}" if major is not None else "a version it could not read"
        return None, f"SMLT needs Node.js {MIN_NODE} or newer; {node} is {found}: install a newer Node.js, then restart Jupyter"
    smlt = shutil.which("smlt")
    if smlt:
        return [node, os.path.realpath(smlt)], None
    repo_cli = os.path.join(os.path.dirname(os.path.dirname(_HERE)), "shared", "bin", "smlt.js")
    if os.path.exists(repo_cli):
        return [node, repo_cli], None
    return None, _NOT_FOUND


def _die_with_parent():
    """Linux: the side process gets SIGTERM when the Jupyter server dies, even by SIGKILL."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class SmltServe:
    def __init__(self, command, env=None, log=None, start_timeout_s=60.0, missing=None):
        self.command = list(command) if command else None
        self.missing = missing or _NOT_FOUND
        self.env = dict(env if env is not None else os.environ)
        self.log = log
        self.start_timeout_s = start_timeout_s
        self.url = None
        self._token = None
        self._proc = None
        self._ready = threading.Event()
        self._failure = None
        self._output_tail = []

    @classmethod
    def from_environment(cls, log=None):
        """``$SMLT_JUPYTER_COMMAND`` (a JSON list) overrides the command."""
        override = os.environ.get("SMLT_JUPYTER_COMMAND")
        if override:
            return cls(json.loads(override), log=log)
        command, missing = find_command()
        return cls(command, log=log, missing=missing)

    @property
    def smlt_home(self):
        return self.env.get("SMLT_HOME") or os.path.join(os.path.expanduser("~"), ".smlt")

    def auth_header(self):
        return {"Authorization": f"Bearer {self._token}"}

    def start(self):
        if self.command is None:
            self._fail(self.missing)
            return
        try:
            self._proc = subprocess.Popen(
                self.command + ["serve"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=self.env,
                text=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        except OSError as err:
            self._fail(f"cannot start {' '.join(self.command)} serve: {err}")
            return
        atexit.register(self.stop)
        threading.Thread(target=self._read_output, name="smlt-serve-output", daemon=True).start()

    def _fail(self, message):
        self._failure = message
        self._ready.set()
        if self.log:
            self.log.error("SMLT: %s", message)

    def _read_output(self):
        proc = self._proc
        for line in proc.stdout:
            line = line.rstrip("\n")
            self._output_tail = (self._output_tail + [line])[-20:]
            if self.log:
                self.log.info("smlt serve | %s", line)
            match = _URL_LINE.match(line)
            if match and not self._ready.is_set():
                self._take_token(match.group(1), proc.pid)
        code = proc.wait()
        if not self._ready.is_set():
            self._fail(f"smlt serve exited with code {code} before it was ready: " + " / ".join(self._output_tail[-5:]))
        elif self._failure is None:
            self._failure = f"smlt serve stopped (exit code {code})"

    def _take_token(self, url, pid):
        path = os.path.join(self.smlt_home, "serve.json")
        try:
            with open(path, encoding="utf-8") as f:
                info = json.load(f)
        except (OSError, ValueError) as err:
            self._fail(f"cannot read the token of smlt serve from {path}: {err}")
            return
        if info.get("pid") != pid or info.get("url") != url:
            self._fail(f"{path} belongs to another smlt serve (pid {info.get('pid')}), not ours ({pid})")
            return
        self.url = url
        self._token = info["token"]
        self._ready.set()

    async def ready(self):
        """The base URL once the side process answers; raises SideProcessError otherwise."""
        if not self._ready.is_set():
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self._ready.wait, self.start_timeout_s)
        if self._failure is not None:
            raise SideProcessError(self._failure)
        if self.url is None:
            raise SideProcessError(f"smlt serve did not start within {self.start_timeout_s:.0f} s")
        return self.url

    @property
    def pid(self):
        return self._proc.pid if self._proc else None

    def stop(self, timeout_s=8.0):
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
