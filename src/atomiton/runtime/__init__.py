"""What generated modules import at run time: stdlib and pydantic only, never the compiler.

``docs/generated-module.md`` is the contract between generated code and this package. Its parts:

* ``runner.py``: ``run``/``arun`` start a run, attach its controls, emit the run's own events.
* ``execution.py``: ``Execution``, what generated code calls around each node; a
  ``RunState`` (``runstate.py``: stop, pause, deadline, the thread limit) that reports through a
  ``RunReport`` (``reporting.py``: events, progress, trace) and holds the run's resources
  (``resources.py``) until it closes.
* ``executors/``: where work runs, behind one ``Executor`` interface: the run's tasks on
  threads (``ThreadExecutor``), ``execution: process`` calls in the run's process pool.
* ``policy.py``: retries, node timeouts and ``on_error`` of one call; ``context.py``: what a
  running node may ask (cancellation, progress, sub-work under the same thread limit).
* ``events.py``/``hooks.py``: what hooks receive and how it reaches them.
* ``main.py``: a generated module's command line (``python -m app.flows.x --input n=1``).
"""

# A loop body or parallel branch: ``partial(_body, ex, inputs)``, which a cluster takes apart.
from functools import partial as partial

from .confine import AllowPaths as AllowPaths
from .context import NodeContext as NodeContext
from .control import CancelToken as CancelToken
from .control import ControlListener as ControlListener
from .control import RunControl as RunControl
from .events import Event as Event
from .events import ExecutionCancelled as ExecutionCancelled
from .events import ExecutionCompleted as ExecutionCompleted
from .events import ExecutionFailed as ExecutionFailed
from .events import ExecutionProgress as ExecutionProgress
from .events import ExecutionStarted as ExecutionStarted
from .events import Log as Log
from .events import NodeCompleted as NodeCompleted
from .events import NodeEvent as NodeEvent
from .events import NodeFailed as NodeFailed
from .events import NodeProgress as NodeProgress
from .events import NodeRetrying as NodeRetrying
from .events import NodeSkipped as NodeSkipped
from .events import NodeStarted as NodeStarted
from .events import event_to_dict as event_to_dict
from .execution import Execution as Execution
from .hooks import BaseHooks as BaseHooks
from .hooks import Hooks as Hooks
from .hooks import HooksArg as HooksArg
from .hooks import Subscriptions as Subscriptions
from .limiter import CapacityLimiter as CapacityLimiter
from .main import main as main
from .model import Blueprint as Blueprint
from .model import NodeInfo as NodeInfo
from .model import Task as Task
from .policy import NodeTimeoutError as NodeTimeoutError
from .runner import arun as arun
from .runner import run as run
from .signals import SignalCancel as SignalCancel
from .cache import Cache as Cache
from .cache import CacheArg as CacheArg
from .supply import PinError as PinError
from .supply import Supplied as Supplied
from .supply import Supplier as Supplier
from .signals import cancel_all_runs as cancel_all_runs
from .signals import cancel_on_signals as cancel_on_signals
from .trace import NodeTrace as NodeTrace
from .trace import Trace as Trace
from .trace import TraceRecorder as TraceRecorder
from .values import TemplateKeyError as TemplateKeyError
from .values import env as env
from .values import error_value as error_value
from .values import lookup as lookup
from .values import now as now
from .values import shquote as shquote
from .values import text as text

__all__ = [
    "AllowPaths",
    "Blueprint",
    "CancelToken",
    "CapacityLimiter",
    "ControlListener",
    "Event",
    "Execution",
    "ExecutionCancelled",
    "ExecutionCompleted",
    "ExecutionFailed",
    "ExecutionProgress",
    "ExecutionStarted",
    "BaseHooks",
    "Cache",
    "CacheArg",
    "Hooks",
    "HooksArg",
    "Log",
    "NodeCompleted",
    "NodeContext",
    "NodeEvent",
    "NodeFailed",
    "NodeInfo",
    "NodeProgress",
    "NodeRetrying",
    "NodeSkipped",
    "NodeStarted",
    "NodeTimeoutError",
    "PinError",
    "NodeTrace",
    "RunControl",
    "SignalCancel",
    "Supplied",
    "Supplier",
    "Subscriptions",
    "Task",
    "TemplateKeyError",
    "Trace",
    "TraceRecorder",
    "arun",
    "cancel_all_runs",
    "cancel_on_signals",
    "env",
    "error_value",
    "event_to_dict",
    "lookup",
    "main",
    "now",
    "partial",
    "shquote",
    "run",
    "text",
]
