"""Benchmark the error classifier on a realistic ~5 MB Glue error log.

Run: .venv/bin/python benchmarks/bench_classifier.py [--mb 5] [--repeats 7]
Prints the median time per classify() call and the throughput, the learned model's file size, the
time to load it (once, on first use), and the import time of the classifier and of the Diagnose
step in a fresh interpreter. No assertions: figures only.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time

from selfheal_core.classification import model as model_module
from selfheal_core.classification.classifier import Classifier

FRAMES = [
    "\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:2672)",
    "\tat org.apache.spark.rdd.RDD.computeOrReadCheckpoint(RDD.scala:365)",
    "\tat org.apache.spark.executor.Executor$TaskRunner.run(Executor.scala:568)",
    "\tat java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1149)",
    "\tat py4j.commands.CallCommand.execute(CallCommand.java:79)",
    "\t... 42 more",
]


def build_log(megabytes: float, seed: int = 7) -> str:
    """Glue-like driver/executor log: INFO chatter, WARN task failures with varying ids, repeated
    stack traces, a Python traceback with Py4J wrapping, and one real cause near the end."""
    rng = random.Random(seed)
    target = int(megabytes * 1024 * 1024)
    parts: list[str] = []
    size = 0
    i = 0
    while size < target:
        i += 1
        ts = f"25/05/{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}"
        roll = rng.random()
        if roll < 0.55:
            line = (
                f"{ts} INFO TaskSetManager: Finished task {i % 400}.0 in stage {i % 37}.0 "
                f"(TID {i}) in {rng.randint(5, 9000)} ms on 172.34.{i % 255}.{(i * 3) % 255} "
                f"(executor {i % 40}) ({i % 400}/400)"
            )
        elif roll < 0.85:
            line = FRAMES[i % len(FRAMES)]
        elif roll < 0.97:
            line = (
                f"{ts} WARN TaskSetManager: Lost task {i % 400}.{i % 4} in stage {i % 37}.0 (TID {i}) "
                f"(172.34.{i % 255}.{(i * 5) % 255} executor {i % 40}): org.apache.spark.SparkException: "
                "Task failed while writing rows."
            )
        else:
            line = f"{ts} WARN BlockManager: custom user print {rng.getrandbits(64):x} for partition {i}"
        parts.append(line)
        size += len(line) + 1
    parts += [
        "Traceback (most recent call last):",
        '  File "/tmp/orders_job.py", line 88, in <module>',
        "    sink.writeFrame(orders)",
        "py4j.protocol.Py4JJavaError: An error occurred while calling o1032.pyWriteDynamicFrame.",
        ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 12 in stage 36.0 failed 4 "
        "times, most recent failure: Lost task 12.3 in stage 36.0 (TID 99812) (172.34.1.9 executor 17): "
        "ExecutorLostFailure (executor 17 exited caused by one of the running tasks) Reason: Container "
        "killed by YARN for exceeding memory limits. 11.2 GB of 11 GB physical memory used.",
        *FRAMES,
    ]
    return "\n".join(parts) + "\n"


def import_seconds(module: str, repeats: int = 5) -> float:
    """Median wall time of ``import module`` in a fresh interpreter (the cost a cold Lambda pays)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(repeats)
    ]
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    log = build_log(args.mb)
    size_mb = len(log.encode("utf-8")) / (1024 * 1024)
    import numpy  # noqa: F401  (the Diagnose step has it imported already; time the file alone)

    start = time.perf_counter()
    model_module.load()
    load_ms = (time.perf_counter() - start) * 1000
    classifier = Classifier()
    result = classifier.classify(log)  # warm-up (reads the model once), and show what it found
    timings = []
    cpu = []
    for _ in range(args.repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        classifier.classify(log)
        timings.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    median = statistics.median(timings)
    median_cpu = statistics.median(cpu)
    print(f"log size        {size_mb:.2f} MB, {log.count(chr(10))} lines")
    print(f"classification  {result.category.value} via {result.signature} (confidence {result.confidence})")
    print(f"repeats         {args.repeats}")
    spread = f"(min {min(timings) * 1000:.1f}, max {max(timings) * 1000:.1f})"
    print(f"median          {median * 1000:.1f} ms   {spread}")
    print(f"median CPU      {median_cpu * 1000:.1f} ms   (one core; wall time above includes waiting)")
    print(f"throughput      {size_mb / median:.1f} MB/s wall, {size_mb / median_cpu:.1f} MB/s CPU")
    print(
        f"model file      {model_module.MODEL_FILE.stat().st_size / 1024:.0f} KiB, loaded in {load_ms:.1f} ms"
    )
    print(f"source          {result.source}")
    for module in ("selfheal_core.classification.classifier", "selfheal_core.steps.diagnose"):
        print(
            f"import          {module}: {import_seconds(module) * 1000:.0f} ms (median of 5, fresh process)"
        )


if __name__ == "__main__":
    main()
