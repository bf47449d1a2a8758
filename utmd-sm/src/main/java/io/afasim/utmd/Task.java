package io.afasim.utmd;

/**
 * A task's mutable state, owned by the {@link TaskManager}. Forward progress is {@code nextStep} (the step
 * to apply next; if {@code begun}, its STEP_BEGIN is journalled but not its STEP_DONE); roll back progress
 * is {@code undoNext} (the step to undo next, -1 when all are undone).
 */
final class Task
{
    final long taskId;
    final int typeId;
    final TaskType type;
    final long correlationId;
    final byte[] args;
    final String[] conflictKeys;
    final long subjectId;
    TaskState state = TaskState.RUNNING;
    int nextStep;
    boolean begun;
    int attempt = 1;
    boolean rollingBack;
    int undoNext = -1;
    int waitParameterId = -1;
    boolean retriggered;
    int recoveryCount;
    RecoveryAction lastRecovery;
    String message = "";
    long startedMs;
    long finishedMs;

    Task(
        final long taskId,
        final int typeId,
        final TaskType type,
        final long correlationId,
        final byte[] args,
        final String[] conflictKeys,
        final long subjectId)
    {
        this.taskId = taskId;
        this.typeId = typeId;
        this.type = type;
        this.correlationId = correlationId;
        this.args = args;
        this.conflictKeys = conflictKeys;
        this.subjectId = subjectId;
    }

    boolean isFinished()
    {
        return state == TaskState.COMPLETED || state == TaskState.ROLLED_BACK || state == TaskState.FAILED;
    }

    int stepCount()
    {
        return null == type ? 0 : type.stepCount();
    }

    String typeName()
    {
        return null == type ? "type#" + typeId : type.name();
    }

    /**
     * @return the step the task is at, for display: the next to apply, or the next to undo.
     */
    int currentStep()
    {
        return rollingBack ? undoNext : nextStep;
    }
}
