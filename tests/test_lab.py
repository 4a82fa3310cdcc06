"""`make lab` starts JupyterLab on the notebooks with the project's kernel."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_lab_serves_jupyterlab_with_the_project_kernel():
    import ipywidgets  # noqa: F401 (tqdm's notebook bars need it)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token=lab-test"
    server = subprocess.Popen(["make", "-o", f"{sys.prefix}/.installed", "lab", f"VENV={sys.prefix}",
                               f"LAB_ARGS={args}"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                page = urllib.request.urlopen(f"{base}/lab?token=lab-test", timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("JupyterLab did not answer within 60 s")
        assert "JupyterLab" in page
        specs = json.loads(urllib.request.urlopen(f"{base}/api/kernelspecs?token=lab-test").read())
        python = specs["kernelspecs"]["python3"]["spec"]
        assert python["argv"][0].startswith(str(Path(sys.prefix)))  # this environment's python
        tree = json.loads(urllib.request.urlopen(f"{base}/api/contents?token=lab-test").read())
        assert "00_data.ipynb" in {item["name"] for item in tree["content"]}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
