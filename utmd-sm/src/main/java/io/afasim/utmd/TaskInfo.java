package io.afasim.utmd;

import java.util.List;

/**
 * Read-only view of a task for {@code afactl task list / show}. Built on request (allocates; command path).
 *
 * @param taskId          task id, unique per journal (never reused, also across compaction).
 * @param typeId          task type id.
 * @param typeName        task type name.
 * @param correlationId   correlation id given at submit (the trace stamps it on every event of the task).
 * @param subjectId       subject (e.g. volume id), 0 = none.
 * @param state           state.
 * @param step            step index the task is at (next to apply, or next to undo when rolling back).
 * @param stepCount       steps of the type.
 * @param rollingBack     true if the task is rolling back (also while WAITING).
 * @param waitParameter   name of the parameter a WAITING task waits on, else null.
 * @param conflictKeys    conflict keys.
 * @param recoveryCount   restarts that found this task unfinished.
 * @param lastRecovery    what the last of them decided, or null.
 * @param message         reason of failure / roll back / recovery, or "".
 * @param args            description of the arguments.
 * @param startedMs       epoch ms of the STARTED record.
 * @param finishedMs      epoch ms of the final record, 0 while unfinished.
 */
public record TaskInfo(
    long taskId,
    int typeId,
    String typeName,
    long correlationId,
    long subjectId,
    TaskState state,
    int step,
    int stepCount,
    boolean rollingBack,
    String waitParameter,
    List<String> conflictKeys,
    int recoveryCount,
    RecoveryAction lastRecovery,
    String message,
    String args,
    long startedMs,
    long finishedMs)
{
    /**
     * @return one line for {@code afactl task list}.
     */
    public String line()
    {
        final StringBuilder builder = new StringBuilder();
        builder.append(taskId).append(' ').append(typeName).append(' ').append(state);
        if (!isFinished())
        {
            builder.append(rollingBack ? " undo step " : " step ").append(step + 1).append('/').append(stepCount);
        }
        if (null != waitParameter)
        {
            builder.append(" waiting-for ").append(waitParameter);
        }
        builder.append(" corr=").append(correlationId);
        if (recoveryCount > 0)
        {
            builder.append(" recovered=").append(recoveryCount).append('(').append(lastRecovery).append(')');
        }
        if (!message.isEmpty())
        {
            builder.append(" -- ").append(message);
        }
        return builder.toString();
    }

    public boolean isFinished()
    {
        return state == TaskState.COMPLETED || state == TaskState.ROLLED_BACK || state == TaskState.FAILED;
    }
}
