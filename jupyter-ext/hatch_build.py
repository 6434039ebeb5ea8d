"""Hatchling build hook: the wheel carries the prebuilt labextension, so build it first.

build.sh is idempotent (it rebuilds only when the sources or the lock file changed) and needs
Node >= 20 and npm, and the root package built (`npm ci` at the repository root does that).
"""
import os
import subprocess

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class LabextensionHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version, build_data):
        if self.target_name != "wheel":
            return
        subprocess.run(["bash", os.path.join(self.root, "build.sh")], check=True)
        entry = os.path.join(self.root, "build", "labextension", "package.json")
        if not os.path.exists(entry):
            raise RuntimeError(f"build.sh did not produce {entry}")
