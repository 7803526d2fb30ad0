"""The automation API: podplay's `preview`, `up`, `destroy` and outputs from Python.

    from podplay.automation import Stack

    stack = Stack.from_program("app.py")
    result = stack.up(on_event=print)
    print(result.summary, result.outputs.exports)

Results and events are frozen dataclasses (`results`, `events`), errors are typed
(`errors`). The `podplay` CLI's `preview`, `up` and `destroy` are built on this API.
"""

from podplay.automation.errors import (
    ConvergeFailed,
    InfeasiblePlan,
    Interrupted,
    NotApplied,
    Problem,
    ValidationError,
)
from podplay.automation.events import (
    AnsibleOutput,
    DeploymentsProgress,
    DestroyPlanned,
    Event,
    InfoMessage,
    OnEvent,
    PhaseStarted,
    PlaybookFinished,
    Previewed,
    ProgramEvaluated,
    ProgressDone,
    ResourceOperationEvent,
    WarningMessage,
)
from podplay.automation.results import (
    ChangeSummary,
    DestroyResult,
    Outputs,
    PlaybookRun,
    PreviewResult,
    ResourceOperation,
    ServiceOutput,
    UpResult,
)
from podplay.automation.stack import Stack

__all__ = [
    "AnsibleOutput",
    "ChangeSummary",
    "ConvergeFailed",
    "DeploymentsProgress",
    "DestroyPlanned",
    "DestroyResult",
    "Event",
    "InfeasiblePlan",
    "InfoMessage",
    "Interrupted",
    "NotApplied",
    "OnEvent",
    "Outputs",
    "PhaseStarted",
    "PlaybookFinished",
    "PlaybookRun",
    "PreviewResult",
    "Previewed",
    "Problem",
    "ProgramEvaluated",
    "ProgressDone",
    "ResourceOperation",
    "ResourceOperationEvent",
    "ServiceOutput",
    "Stack",
    "UpResult",
    "ValidationError",
    "WarningMessage",
]
