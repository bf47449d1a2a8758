package io.afasim.utmd;

/**
 * Answer to {@link TaskManager#submit}. Reusable; the message is meant for the operator, e.g.
 * {@code refused: volume vol1 is busy with task 17 (volume-set-mode, step 2/4)}.
 */
public final class SubmitResult
{
    private SubmitStatus status = SubmitStatus.REFUSED_BAD_REQUEST;
    private long taskId;
    private long blockingTaskId;
    private String message = "";

    SubmitResult set(final SubmitStatus status, final long taskId, final long blockingTaskId, final String message)
    {
        this.status = status;
        this.taskId = taskId;
        this.blockingTaskId = blockingTaskId;
        this.message = message;
        return this;
    }

    public SubmitStatus status()
    {
        return status;
    }

    public boolean isAccepted()
    {
        return status == SubmitStatus.ACCEPTED;
    }

    /**
     * @return the new task's id when accepted, else 0.
     */
    public long taskId()
    {
        return taskId;
    }

    /**
     * @return the running task that caused a conflict refusal, else 0.
     */
    public long blockingTaskId()
    {
        return blockingTaskId;
    }

    public String message()
    {
        return message;
    }

    public String toString()
    {
        return status + ": " + message;
    }
}
