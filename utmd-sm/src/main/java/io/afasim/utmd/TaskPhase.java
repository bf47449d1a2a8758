package io.afasim.utmd;

/**
 * Phase of a {@link TaskJournal} record (stable codes: they are on disk). RECOVERED is written by {@link TaskManager#recover(long)} to say what it decided (aux = {@link RecoveryAction} code).
 */
public enum TaskPhase implements StateCode
{
    STARTED(1),
    STEP_BEGIN(2),
    STEP_DONE(3),
    COMPLETED(4),
    ROLLING_BACK(5),
    UNDO_DONE(6),
    ROLLED_BACK(7),
    FAILED(8),
    WAITING(9),
    RECOVERED(10);

    private static final TaskPhase[] BY_CODE = new TaskPhase[64];

    static
    {
        for (final TaskPhase value : values())
        {
            BY_CODE[value.code] = value;
        }
    }

    private final int code;

    TaskPhase(final int code)
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
    public static TaskPhase fromCode(final int code)
    {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
