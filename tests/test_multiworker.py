"""IMINET trains under MultiWorkerMirroredStrategy: two worker processes on 127.0.0.1,
configured by TF_CONFIG, as the README describes for several machines."""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = textwrap.dedent("""
    import json, os
    import keras, numpy as np, tensorflow as tf
    keras.config.disable_traceback_filtering()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    from vocalsearch_tf.training import recipes
    from vocalsearch_tf.training import runs
    from vocalsearch_tf.models.iminet import build_iminet
    from tests.test_iminet import tiny_pairs
    sounds, imitations, pairs = tiny_pairs()
    runs.set_seed(0)
    data = recipes.pair_dataset(pairs, {i: i for i in range(len(imitations))},
                                 {s: s for s in range(len(sounds))}, imitations, sounds, 16, 0)
    model, history = recipes.fit_pair_model(lambda: build_iminet("tied"), data, data,
                                             recipes.AdamRecipe(max_epochs=1), strategy=strategy)
    weights = float(sum(np.abs(w).sum() for w in model.get_weights()))
    task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    print(json.dumps({"task": task, "replicas": strategy.num_replicas_in_sync,
                      "epochs": len(history["loss"]), "loss": history["loss"][-1], "weights": weights}))
""")


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_iminet_trains_one_epoch_on_two_workers():
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    workers = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
               "PYTHONPATH": str(ROOT)}
        workers.append(subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outputs = []
    try:
        for worker in workers:
            stdout, stderr = worker.communicate(timeout=300)
            assert worker.returncode == 0, stderr[-3000:]
            outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for worker in workers:
            worker.kill()
    assert sorted(o["task"] for o in outputs) == [0, 1]
    assert all(o["replicas"] == 2 and o["epochs"] == 1 for o in outputs)
    # all-reduce keeps the replicas in step: both workers end with the same weights
    assert abs(outputs[0]["weights"] - outputs[1]["weights"]) <= 1e-4 * outputs[0]["weights"]
    assert abs(outputs[0]["loss"] - outputs[1]["loss"]) < 1e-5
