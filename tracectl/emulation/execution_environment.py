"""One Lambda execution environment on this machine, run the way Lambda runs it.

`ExecutionEnvironment` starts AWS's Runtime Interface Emulator (`aws-lambda-rie`, built by `make
tools`), which runs the real runtime client (`python -m awslambdaric HANDLER`, from the runtime of
tracectl/emulation/runtime_and_bundle.py) in the function's bundle, with the function's memory, timeout and
environment. Events go in through the emulator's invoke endpoint; the emulator then does what
Lambda does: init on the first invocation (cold start), the Runtime API loop, the context object,
handler resolution, error reporting, the Extensions API, START/END/REPORT lines in the log, and
a handler that runs past its timeout is killed and the environment initialised again.

Where the emulator differs from Lambda, this module makes up for it through `RuntimeApiProxy`
(tracectl/emulation/runtime_api_proxy.py): the invocation's X-Ray header reaches the runtime, and the moment
the runtime posts its response (when AWS would answer the caller) and whether it failed are known.

What Lambda gives the environment and the emulator does not, `LambdaCgroup` (tracectl/emulation/lambda_cgroup.py)
gives: the runtime runs with its memory's share of one core, and it is frozen from the moment the
runtime and every extension are done with an invocation until the next one thaws it. Stopping it is
Lambda's shutdown: SIGTERM to the emulator, which gives the runtime SIGTERM and a grace period (when
an extension registered), then SIGKILL.

The rest of the differences are listed in docs/lambda-locally.md.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3

from tracectl import tools
from tracectl.emulation.lambda_cgroup import MB_PER_VCPU, UNTHROTTLED_ENV, LambdaCgroup, unavailable_reason, unthrottled
from tracectl.emulation.runtime_api_proxy import RuntimeApiProxy
from tracectl.processes import Child, free_port

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
# What the emulator may take beyond the function's own timeout: init on a cold start, its report.
INIT_ALLOWANCE_S = 30.0
# How long the runtime may take, after the emulator answered, to ask for its next invocation.
RUNTIME_NEXT_WAIT_S = 2.0
_said: set[str] = set()


def _say_once(line: str) -> None:
    if line not in _said:
        _said.add(line)
        print(line, file=sys.stderr)


class EmulatorError(RuntimeError):
    """The emulator is missing, did not start, or died; the message is one line saying why."""


@dataclass(frozen=True)
class Invocation:
    payload: Any
    """What the invoker got back: the handler's result, or Lambda's error document."""
    error: dict[str, Any] | None
    """`{"errorType", "errorMessage", …}` when the function failed (raised, timed out, init failed)."""
    request_id: str | None
    responded_s: float | None
    """Invoke → the runtime posting its response or error: when AWS answers the caller."""
    posted_at: float | None
    """That post's time.monotonic(), to order it against other events of this machine."""
    finished_s: float
    """Invoke → the emulator's answer: the runtime *and* every extension done (the billed part)."""


@dataclass(frozen=True, kw_only=True)
class FunctionSpec:
    """What Lambda knows of a function when it creates an environment for it."""

    name: str
    handler: str
    python_version: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    """The function's configured environment (the stack's `Environment.Variables`)."""
    initialization_type: str = "on-demand"
    """What Lambda tells the runtime about its init (`snap-start` for SnapStart; the emulator has no
    snapshots, so only the variable changes)."""


class ExecutionEnvironment:
    """Use as a context manager: the emulator and its runtime stop on exit."""

    def __init__(
        self,
        function: FunctionSpec,
        *,
        task: Path,
        runtime_python: Path,
        log: Path,
        exec_wrapper: list[str] | None = None,
        throttle: bool = True,
    ) -> None:
        """`exec_wrapper`: what starts the runtime, as Lambda's AWS_LAMBDA_EXEC_WRAPPER (a layer's
        wrapper script, or a profiler): it is given the runtime's command to run. `throttle`: False
        gives the runtime a whole core where only instructions are counted (a profiler's run)."""
        self.function = function
        self._throttle = throttle
        self._exec_wrapper = exec_wrapper or []
        self._task = task
        self._runtime_python = runtime_python
        self._log = log
        self._child: Child | None = None
        self._proxy: RuntimeApiProxy | None = None
        self.cgroup: LambdaCgroup | None = None
        self._invoke_url = ""
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=2.0, read=function.timeout_s + INIT_ALLOWANCE_S), retries=False
        )

    def __enter__(self) -> ExecutionEnvironment:
        rie = tools.binary(tools.RIE)
        if not rie.exists():
            raise EmulatorError(f"{tools.shown(rie)} is missing: run make rie (or make tools; needs Go)")
        invoke_port, runtime_api_port = free_port(), free_port()
        self._proxy = RuntimeApiProxy(f"127.0.0.1:{runtime_api_port}").__enter__()
        self.cgroup = LambdaCgroup.create(self.function.name, self.function.memory_mb, throttle=self._throttle)
        if self.cgroup is None:
            _say_once(f"tracectl: functions run unthrottled and are never frozen ({unavailable_reason()})")
        elif self.cgroup.memory_mb is None and unthrottled():
            _say_once(f"tracectl: {UNTHROTTLED_ENV}=1: functions get a whole core (frozen between invocations)")
        elif self.cgroup.memory_mb is not None:
            share = self.function.memory_mb / MB_PER_VCPU
            _say_once(
                f"tracectl: {self.function.memory_mb} MB functions run as Lambda runs them: {share:.2f} of a core, "
                f"frozen between invocations, SIGTERM at shutdown ({UNTHROTTLED_ENV}=1 for a whole core)"
            )
        # The emulator sets AWS_LAMBDA_RUNTIME_API (to its own Runtime API) and the init type for the
        # runtime; `env` points the runtime client at the proxy instead, which forwards to it.
        runtime = [
            *(self.cgroup.join_command() if self.cgroup else []),
            "env",
            f"AWS_LAMBDA_RUNTIME_API={self._proxy.address}",
            f"AWS_LAMBDA_INITIALIZATION_TYPE={self.function.initialization_type}",
            *self._exec_wrapper,
            str(self._runtime_python),
        ]
        command = [
            str(rie),
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{invoke_port}",
            "--runtime-api-address",
            f"127.0.0.1:{runtime_api_port}",
            *runtime,
            "-m",
            "awslambdaric",
            self.function.handler,
        ]
        self._child = Child(
            self.function.name, command, self.lambda_environment(), self._log, cwd=self._task, own_group=True
        )
        self._invoke_url = f"http://127.0.0.1:{invoke_port}{INVOKE_PATH}"
        self._wait_listening(invoke_port)
        return self

    def begin_stop(self) -> None:
        """Start shutting the environment down as Lambda does; `__exit__` then waits for it."""
        if self.cgroup is not None:
            self.cgroup.thaw()
        if self._child is not None:
            self._child.terminate()

    def __exit__(self, *_exc: object) -> None:
        if self.cgroup is not None:
            self.cgroup.thaw()
        if self._child is not None:
            self._child.stop()
        if self._proxy is not None:
            self._proxy.__exit__()
        if self.cgroup is not None:
            self.cgroup.remove()
        self._http.clear()

    def runtime_pid(self) -> int | None:
        """The runtime process the emulator runs now (a new one after a timeout re-initialised it), if any:
        the emulator starts it at the first invocation, as Lambda initialises on demand."""
        assert self._child is not None
        for task in Path(f"/proc/{self._child.process.pid}/task").iterdir():
            children = (task / "children").read_text().split()
            if children:
                return int(children[0])
        return None

    def lambda_environment(self) -> dict[str, str]:
        """The function's environment plus what Lambda itself sets in every execution environment."""
        f = self.function
        return {
            **f.environment,
            "_HANDLER": f.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{f.python_version}",
            "AWS_LAMBDA_FUNCTION_NAME": f.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(f.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(f.timeout_s),  # read by the emulator; Lambda does not set it
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{f.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{f.name}",
            "LAMBDA_TASK_ROOT": str(self._task),
            "LAMBDA_RUNTIME_DIR": str(self._runtime_python.parent.parent),
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            # /var/task is read-only in Lambda: nothing is compiled into the bundle at run time.
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def invoke(self, event: Any, *, trace_header: str | None = None) -> Invocation:
        """One invocation, as Lambda's Invoke API runs it; `trace_header` is what the runtime is given."""
        assert self._proxy is not None and self._child is not None
        self._proxy.expect(trace_header)
        if self.cgroup is not None:
            self.cgroup.thaw()
        started = time.monotonic()
        headers = {"Content-Type": "application/json", **({"X-Amzn-Trace-Id": trace_header} if trace_header else {})}
        try:
            answer = self._http.request("POST", self._invoke_url, body=json.dumps(event).encode(), headers=headers)
        except urllib3.exceptions.HTTPError as error:
            why = self._child.last_line() if not self._child.alive() else str(error)
            raise EmulatorError(f"function {self.function.name}: the emulator did not answer ({why})") from None
        finished = time.monotonic() - started
        # The emulator answers once the runtime posted and every extension asked for its next event;
        # when the runtime is back in `next` too, Lambda freezes the environment.
        if self.cgroup is not None and self._proxy.wait_runtime_waiting(RUNTIME_NEXT_WAIT_S):
            self.cgroup.freeze()
        posted = self._proxy.posted_since(started)
        text = answer.data.decode(errors="replace")
        try:
            payload: Any = json.loads(text) if text else None
        except ValueError:
            payload = text
        failure: dict[str, Any] | None = None
        if posted is not None and posted.kind == "error":
            failure = payload if isinstance(payload, dict) else {"errorType": "Unknown", "errorMessage": text}
        elif posted is None:
            # Nothing posted: the handler ran past its timeout, or init failed (the emulator's own words).
            kind = "Sandbox.Timedout" if text.startswith("Task timed out") else f"Runtime.Emulator{answer.status}"
            failure = {"errorType": kind, "errorMessage": text}
        return Invocation(
            payload=payload,
            error=failure,
            request_id=posted.request_id if posted else None,
            responded_s=posted.at - started if posted else None,
            posted_at=posted.at if posted else None,
            finished_s=finished,
        )

    def _wait_listening(self, port: int) -> None:
        assert self._child is not None
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                if not self._child.alive():
                    break
                time.sleep(0.02)
        raise EmulatorError(f"function {self.function.name}: the emulator did not start ({self._child.last_line()})")
