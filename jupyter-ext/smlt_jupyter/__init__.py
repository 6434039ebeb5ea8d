"""Jupyter server extension for SMLT.

It starts ``smlt serve`` on loopback as a side process (its random bearer token stays in this
process and is never sent to the browser) and proxies its API and event stream under
``<base_url>/smlt/``, behind Jupyter's own authentication and XSRF checks. The side process is
stopped with the server.

Installing the ``smlt-jupyterlab`` wheel enables it (``etc/jupyter/jupyter_server_config.d/
smlt_jupyter.json``). Needs jupyter_server 2.
"""
from .handlers import setup_handlers
from .side_process import SmltServe

__all__ = ["SmltServe", "setup_handlers"]


def _jupyter_server_extension_points():
    return [{"module": "smlt_jupyter"}]


def _load_jupyter_server_extension(serverapp):
    side = SmltServe.from_environment(log=serverapp.log)
    side.start()
    serverapp.web_app.settings["smlt_serve"] = side
    setup_handlers(serverapp.web_app, root_dir=serverapp.root_dir)
    serverapp.log.info("SMLT: proxying smlt serve under %ssmlt/", serverapp.base_url)

