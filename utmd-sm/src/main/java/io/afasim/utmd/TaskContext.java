package io.afasim.utmd;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.charset.StandardCharsets;

/**
 * What a step sees while it runs. One instance, reused by the {@link TaskManager} for every apply and undo.
 */
public final class TaskContext
{
    private final UnsafeBuffer argsBuffer = new UnsafeBuffer(new byte[0]);
    private final ParameterSet parameters;
    private Task task;
    private int stepIndex;
    private boolean undoing;
    private long nowNs;
    private int waitParameterId = -1;
    private String failureReason;

    TaskContext(final ParameterSet parameters)
    {
        this.parameters = parameters;
    }

    void reset(final Task task, final int stepIndex, final boolean undoing, final long nowNs)
    {
        this.task = task;
        this.stepIndex = stepIndex;
        this.undoing = undoing;
        this.nowNs = nowNs;
        this.waitParameterId = -1;
        this.failureReason = null;
        argsBuffer.wrap(task.args);
    }

    public long taskId()
    {
        return task.taskId;
    }

    public long correlationId()
    {
        return task.correlationId;
    }

    public long subjectId()
    {
        return task.subjectId;
    }

    public int stepIndex()
    {
        return stepIndex;
    }

    /**
     * @return true while an undo runs.
     */
    public boolean isUndo()
    {
        return undoing;
    }

    /**
     * @return 1 the first time this step's apply runs; more when it is re-run (after a wait or a crash).
     */
    public int attempt()
    {
        return task.attempt;
    }

    /**
     * @return true if the task was found unfinished by recovery after a restart.
     */
    public boolean isRecovered()
    {
        return task.recoveryCount > 0;
    }

    public long nowNs()
    {
        return nowNs;
    }

    /**
     * @return the task's arguments, read only.
     */
    public DirectBuffer args()
    {
        return argsBuffer;
    }

    public int argsLength()
    {
        return task.args.length;
    }

    /**
     * @return the arguments as a UTF-8 string (allocates; configuration path only).
     */
    public String argsAsString()
    {
        return new String(task.args, StandardCharsets.UTF_8);
    }

    public ParameterSet parameters()
    {
        return parameters;
    }

    /**
     * Name the parameter whose change should re-trigger this step; then return
     * {@link StepOutcome#WAIT_PRECONDITION}.
     */
    public void waitFor(final Parameter parameter)
    {
        waitParameterId = parameter.id();
    }

    /**
     * Give the reason of a {@link StepOutcome#FAILED}; it goes to the journal and to {@code task show}.
     */
    public void failureReason(final String reason)
    {
        failureReason = reason;
    }

    int waitParameterId()
    {
        return waitParameterId;
    }

    String failureReason()
    {
        return failureReason;
    }
}
