package io.afasim.utmd;

/**
 * Kinds of {@link EventTrace} events, with stable codes. The columns each kind fills:
 * <pre>
 *  kind                 source      from / to            step   detail
 *  PARAMETER_CHANGED    -1          old / new (int)      -1     parameter id
 *  MACHINE_TRIGGERED    machine     state / state        -1     cause: parameter id, CAUSE_INITIAL, CAUSE_TIMER
 *  MACHINE_TRANSITION   machine     state / state        -1     -
 *  MACHINE_STORM        machine     state / state        -1     triggers without the runner going quiet
 *  MACHINE_ERROR        machine     state / state        -1     -
 *  GATE_ACCEPTED        task type   -                    -1     SubmitStatus code        (task = new task)
 *  GATE_REFUSED         task type   -                    step   SubmitStatus code        (task = blocking task)
 *  TASK_STATE           task type   TaskState / TaskState step  -
 *  TASK_STEP_BEGIN      task type   -                    step   attempt (1 = first run of the step)
 *  TASK_STEP_DONE       task type   -                    step   -
 *  TASK_STEP_FAILED     task type   -                    step   -
 *  TASK_UNDO_BEGIN      task type   -                    step   -
 *  TASK_UNDO_DONE       task type   -                    step   -
 *  TASK_WAIT            task type   -                    step   parameter id waited on
 *  TASK_RETRIGGER       task type   -                    step   parameter id that changed
 *  TASK_RECOVERED       task type   -                    step   RecoveryAction code
 *  TASK_ERROR           task type   -                    step   -    (unexpected exception in a step)
 *  JOURNAL_TORN_TAIL    -1          -                    -1     bytes ignored at the tail
 *  JOURNAL_COMPACTED    -1          -                    -1     records kept
 * </pre>
 */
public enum TraceKind implements StateCode
{
    PARAMETER_CHANGED(1),
    MACHINE_TRIGGERED(2),
    MACHINE_TRANSITION(3),
    MACHINE_STORM(4),
    MACHINE_ERROR(5),
    GATE_ACCEPTED(10),
    GATE_REFUSED(11),
    TASK_STATE(20),
    TASK_STEP_BEGIN(21),
    TASK_STEP_DONE(22),
    TASK_STEP_FAILED(23),
    TASK_UNDO_BEGIN(24),
    TASK_UNDO_DONE(25),
    TASK_WAIT(26),
    TASK_RETRIGGER(27),
    TASK_RECOVERED(28),
    TASK_ERROR(29),
    JOURNAL_TORN_TAIL(40),
    JOURNAL_COMPACTED(41);

    private static final TraceKind[] BY_CODE = new TraceKind[64];

    static
    {
        for (final TraceKind kind : values())
        {
            BY_CODE[kind.code] = kind;
        }
    }

    private final int code;

    TraceKind(final int code)
    {
        this.code = code;
    }

    public int code()
    {
        return code;
    }

    /**
     * @return the kind with that code, or null.
     */
    public static TraceKind fromCode(final int code)
    {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
