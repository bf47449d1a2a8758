package io.afasim.utmd;

/**
 * State of a task. RUNNING, WAITING (parked on a precondition; may be forward or rolling back) and ROLLING_BACK are unfinished and hold the task's conflict keys; COMPLETED, ROLLED_BACK and FAILED are final.
 */
public enum TaskState implements StateCode
{
    RUNNING(1),
    WAITING(2),
    ROLLING_BACK(3),
    COMPLETED(4),
    ROLLED_BACK(5),
    FAILED(6);

    private static final TaskState[] BY_CODE = new TaskState[64];

    static
    {
        for (final TaskState value : values())
        {
            BY_CODE[value.code] = value;
        }
    }

    private final int code;

    TaskState(final int code)
    {
        this.code = code;
    }

    public int code()
    {
        return code;
    }

    /**
     * @return the constant with that code, or null.
     */
    public static TaskState fromCode(final int code)
    {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
