package io.afasim.utmd;

/**
 * What {@link TaskManager#recover(long)} does with a task found unfinished after a restart. REDO_FORWARD: re-run the step that was begun but not done, then the rest (every step must be idempotent). ROLL_BACK: undo the steps that may have been applied, the begun one included, newest first (every undo must be idempotent). A task whose last step is done is completed under either policy: the last STEP_DONE record is its commit point.
 */
public enum RecoveryPolicy implements StateCode
{
    REDO_FORWARD(1),
    ROLL_BACK(2);

    private static final RecoveryPolicy[] BY_CODE = new RecoveryPolicy[64];

    static
    {
        for (final RecoveryPolicy value : values())
        {
            BY_CODE[value.code] = value;
        }
    }

    private final int code;

    RecoveryPolicy(final int code)
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
    public static RecoveryPolicy fromCode(final int code)
    {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
