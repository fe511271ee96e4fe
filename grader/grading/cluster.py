"""A batch's grading on a Dask distributed cluster: the worker plugin and task, and the client's executor.

Each Dask worker process keeps one warm sandbox for its whole life (`SandboxPlugin`,
started once per worker, not per task), and before it grades anything checks that
its kernel holds every confinement layer (grader.sandbox.doctor): a worker that
cannot refuses its tasks with the reason, and the client reports those learners as
not graded. A task carries one staged submission's bytes and the seed the client
derived (grader.grading.work.Task); it comes back as an Outcome of plain data.

The client keeps intake (unpacking, hashing, skipping what is already graded) and is
the only writer of the gradebook. It keeps a bounded number of tasks in flight, so a
class of 100,000 never sits in memory at once. A worker that dies mid-task is the
scheduler's business: the task runs again on another worker and its one result comes
back once. A scheduler that goes away ends the run (ClusterLost) with everything
recorded so far kept.
"""

from __future__ import annotations

import logging
import os
import signal
import tempfile
import threading
import time
import uuid
from collections import deque
from concurrent.futures import CancelledError, ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import grader
from grader.grading import intake
from grader.grading.work import Outcome, QuizKey, Settings, Task, annotate, grade_task, make_task, settled
from grader.sandbox.doctor import REQUIRED, Report, probe
from grader.sandbox.session import Zygote

try:
    import dask
    import distributed
    from distributed import WorkerPlugin, get_worker
except ImportError:   # the `cluster` extra is not installed: a local batch needs none of this
    dask = distributed = None
    WorkerPlugin = object

PLUGIN = "vaegrade-sandbox"
INSTALL_HINT = "pip install 'vae-grader[cluster]' (dask and distributed)"
CONNECT_SECONDS = 20          #: to reach the scheduler
WORKER_WAIT_SECONDS = 120     #: for a first worker to join a scheduler that has none
READY_SECONDS = 300           #: for a worker's sandbox to warm up and pass its probe
INTAKE_THREADS = 4            #: client threads unpacking and hashing submissions ahead of the workers


#: A `local:N` cluster has no dashboard, so no statistical profiler (it samples the grading thread's stack
#: every 10 ms) and slower housekeeping: measured idle, its processes then spend 1% of a core instead of 4%.
LOCAL_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}


class ClusterError(Exception):
    """The cluster cannot be used at all (not installed, unreachable, no workers): nothing was graded."""


class ClusterLost(Exception):
    """The scheduler went away mid-run: what was recorded stays, the rest is for a rerun."""


class SandboxRefused(Exception):
    """This worker's machine cannot hold the sandbox's layers, so it grades nothing."""


# --- the worker side -------------------------------------------------------------------------------------


class SandboxPlugin(WorkerPlugin):
    """One warm sandbox per worker process, checked by the doctor's probe before any task uses it."""

    name = PLUGIN

    def __init__(self, required: tuple[str, ...] = REQUIRED, *, ignore_interrupts: bool = False):
        self.required = tuple(required)
        self.ignore_interrupts = ignore_interrupts

    def setup(self, worker=None):
        if self.ignore_interrupts and threading.current_thread() is threading.main_thread():
            # A worker of `--scheduler local:N` shares the terminal: Ctrl-C is the client's to handle.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        self._ready = threading.Event()
        self._zygote: Zygote | None = None
        self._report: Report | None = None
        self._problem = ""
        self.quiz_key = QuizKey()
        # Warm up beside the worker's event loop: the first task waits for it, nothing else does.
        threading.Thread(target=self._warm, name="vaegrade-sandbox-warmup", daemon=True).start()

    def _warm(self) -> None:
        try:
            self._zygote = Zygote()
            self._report = probe(self._zygote)
        except Exception as exc:   # the sandbox cannot even start: every task says why
            self._problem = f"the sandbox cannot start on this worker ({type(exc).__name__}: {exc})"
        finally:
            self._ready.set()

    def zygote(self, fresh: bool = False) -> Zygote:
        """The worker's sandbox, or SandboxRefused when this machine must not grade."""
        if not self._ready.wait(READY_SECONDS):
            raise SandboxRefused("the worker's sandbox did not warm up in time")
        if self._problem:
            raise SandboxRefused(self._problem)
        if not self._report.ok(self.required):
            raise SandboxRefused(f"worker refuses work: {self._report.reason(self.required)}")
        return self._zygote   # a warm parent that died is restarted by its next spawn

    def report(self) -> Report | None:
        self._ready.wait(READY_SECONDS)
        return self._report

    def teardown(self, worker=None):
        self._ready.wait(READY_SECONDS)
        if self._zygote is not None:
            self._zygote.close()


def _plugin() -> SandboxPlugin:
    try:
        return get_worker().plugins[PLUGIN]
    except (KeyError, ValueError):
        raise SandboxRefused("the vae-grader sandbox plugin is not registered on this worker") from None


def grade_remote(task: Task) -> Outcome:
    """The Dask task: grade one staged submission in this worker's warm sandbox."""
    plugin = _plugin()
    plugin.zygote()   # refuse before touching the learner's files
    if task.grader_version != grader.__version__:
        raise SandboxRefused(f"worker refuses work: it runs vae-grader {grader.__version__}, the client "
                             f"{task.grader_version}; install the same version on every worker")
    started = time.monotonic()
    outcome = grade_task(task, zygote=plugin.zygote, quiz_key=plugin.quiz_key)
    outcome.seconds = time.monotonic() - started
    return outcome


def worker_report() -> str:
    """`client.run(worker_report)`: the doctor's report of a worker's sandbox (what `vaegrade doctor` prints)."""
    try:
        report = get_worker().plugins[PLUGIN].report()
    except (KeyError, ValueError):
        report = None
    return (report or probe()).text()


# --- the client side --------------------------------------------------------------------------------------


def available() -> bool:
    return distributed is not None


class DaskExecutor:
    """Submissions graded on a Dask cluster; intake and recording stay with the caller."""

    def __init__(self, address: str, settings: Settings, *, required: tuple[str, ...] = REQUIRED):
        if distributed is None:
            raise ClusterError(f"grading on a Dask cluster needs the `cluster` extra: {INSTALL_HINT}")
        self.settings, self.cluster, self.client = settings, None, None
        self._quiet = _Quiet()
        self._futures: dict = {}
        try:
            if address == "local" or address.startswith("local:"):
                count = address.partition(":")[2] or str(os.cpu_count() or 1)
                if not count.isdigit() or int(count) < 1:
                    raise ClusterError(f"--scheduler {address}: give local:N with N >= 1 worker processes")
                with dask.config.set(LOCAL_CONFIG):
                    self.cluster = distributed.LocalCluster(
                        n_workers=int(count), threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=None, silence_logs=logging.ERROR)
                target = self.cluster
            else:
                target = _checked_address(address)
            self.client = distributed.Client(target, timeout=CONNECT_SECONDS, set_as_default=False)
            self.address = self.client.scheduler.address
            self.client.register_plugin(SandboxPlugin(required, ignore_interrupts=self.cluster is not None),
                                        name=PLUGIN)
            try:
                self.client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
            except TimeoutError:
                raise ClusterError(f"no worker joined the Dask scheduler at {address} within "
                                   f"{WORKER_WAIT_SECONDS} s: start some (`dask worker {self.address} "
                                   "--nthreads 1`) and run the same command again") from None
            self.jobs = max(1, sum(self.client.nthreads().values()))
        except ClusterError:
            self.close(True)
            raise
        except (OSError, TimeoutError, ValueError) as exc:
            self.close(True)
            raise ClusterError(f"cannot use the Dask scheduler at {address}: {_short(exc)}") from None
        self.where = "local cluster" if self.cluster is not None else self.address
        self.window = max(2 * self.jobs, self.jobs + 4)

    # Intake on the client ------------------------------------------------------------------------
    def _stage(self, entry: intake.Entry):
        """(Task, files, ignored) to send, or the Outcome of a submission that needs no sandbox."""
        s = self.settings
        with tempfile.TemporaryDirectory(dir=s.work_root, prefix="work-") as work:
            try:
                prepared = intake.prepare(entry, Path(work))
            except intake.BadSubmission as exc:
                return Outcome(entry.learner, "failed", str(exc))
            early = settled(entry, prepared, force=s.force, done=s.done, quiz_key=s.quiz_key,
                            pass_fraction=s.pass_fraction)
            if early is not None:
                return early
            task = make_task(entry.learner, prepared, course_key=s.course_key, limits=s.limits,
                             pass_fraction=s.pass_fraction)
            return task, prepared.files, prepared.ignored

    def outcomes(self, entries: list[intake.Entry]) -> Iterator[Outcome]:
        """Each submission's Outcome, as it finishes; ClusterLost when the scheduler goes away.

        Intake runs ahead on a few client threads (unpacking, hashing and reading release the GIL),
        at most `window` submissions ahead of what is in flight.
        """
        pending = iter(entries)
        waiting = distributed.as_completed(loop=self.client.loop)
        ahead: deque = deque()
        pool = ThreadPoolExecutor(max_workers=INTAKE_THREADS, thread_name_prefix="vaegrade-intake")
        try:
            while True:
                while len(ahead) < self.window and (entry := next(pending, None)) is not None:
                    ahead.append((entry, pool.submit(self._stage_safely, entry)))
                while ahead and len(self._futures) < self.window:
                    entry, staging = ahead.popleft()
                    staged = staging.result()
                    if isinstance(staged, Outcome):
                        yield staged
                        continue
                    task, files, ignored = staged
                    self._check_connected()
                    future = self.client.submit(grade_remote, task, key=f"vaegrade-{uuid.uuid4().hex}",
                                                retries=1, pure=False)
                    self._futures[future] = (entry, files, ignored)
                    waiting.add(future)
                    if len(ahead) < self.window and (entry := next(pending, None)) is not None:
                        ahead.append((entry, pool.submit(self._stage_safely, entry)))
                if not self._futures:
                    if ahead:
                        continue
                    return
                future = next(waiting)
                entry, files, ignored = self._futures.pop(future)
                outcome = self._outcome(future, entry.learner)
                future.release()
                yield annotate(outcome, submission=str(entry.path), files=files, ignored=ignored)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)   # at most INTAKE_THREADS unpackings to finish

    def _stage_safely(self, entry: intake.Entry):
        try:
            return self._stage(entry)
        except Exception as exc:   # a fault of the grader itself: reported for this learner
            return Outcome(entry.learner, "failed", f"the grader failed on this submission "
                                                    f"({type(exc).__name__}: {exc}); rerun to retry")

    def _outcome(self, future, learner: str) -> Outcome:
        try:
            return future.result()
        except CancelledError:
            if self.client.status != "running":
                raise ClusterLost(self._lost()) from None
            return Outcome(learner, "failed", "the task was cancelled on the cluster; rerun to retry")
        except SandboxRefused as exc:
            return Outcome(learner, "failed", f"not graded: {exc}")
        except distributed.scheduler.KilledWorker:
            return Outcome(learner, "failed", "the Dask workers grading this submission kept dying "
                                              "(a worker's memory or the machine?); rerun to retry")
        except (OSError, TimeoutError) as exc:
            if self.client.status != "running":
                raise ClusterLost(self._lost()) from None
            return Outcome(learner, "failed", f"the cluster failed on this submission ({_short(exc)}); rerun to retry")
        except Exception as exc:
            return Outcome(learner, "failed", f"the grader failed on this submission on the cluster "
                                              f"({type(exc).__name__}: {_short(exc)}); rerun to retry")

    def _check_connected(self) -> None:
        if self.client.status not in ("running", "newly-created"):
            raise ClusterLost(self._lost())

    def _lost(self) -> str:
        return (f"lost the Dask scheduler at {self.address}: every result received before is in the gradebook; "
                "run the same command again once the scheduler is back to grade the rest")

    def close(self, interrupted: bool) -> None:
        """Cancel what is still in flight and let go of the cluster (quickly after an interrupt or a loss)."""
        client, self.client = self.client, None
        try:
            if client is not None:
                if self._futures and client.status == "running":
                    try:
                        client.cancel(list(self._futures), force=True)
                    except Exception:
                        pass
                self._futures.clear()
                try:
                    client.close(timeout=2 if interrupted or client.status != "running" else 10)
                except Exception:
                    pass
            if self.cluster is not None:
                try:
                    self.cluster.close(timeout=10)
                except Exception:
                    pass
                self.cluster = None
        finally:
            self._quiet.restore()


class _Quiet:
    """While the executor lives, Dask's own reconnect and shutdown tracebacks stay out of the user's terminal."""

    NAMES = ("distributed", "distributed.client", "distributed.core", "distributed.comm", "distributed.nanny",
             "distributed.scheduler", "distributed.worker", "tornado")

    def __init__(self) -> None:
        self.levels = {}
        for name in self.NAMES:
            log = logging.getLogger(name)
            self.levels[name] = log.level
            log.setLevel(logging.CRITICAL + 1)

    def restore(self) -> None:
        for name, level in self.levels.items():
            logging.getLogger(name).setLevel(level)
        self.levels = {}


def _checked_address(address: str) -> str:
    """A scheduler address Dask can dial (tcp://HOST:PORT, HOST:PORT, tls://...); ClusterError if not."""
    try:
        scheme, _ = distributed.comm.parse_address(address)
        if scheme != "inproc":
            distributed.comm.get_address_host_port(address)
    except (ValueError, TypeError) as exc:
        raise ClusterError(f"--scheduler {address}: not a Dask scheduler address ({_short(exc)}); give "
                           "tcp://HOST:PORT, or local:N to start N worker processes here") from None
    return address


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
